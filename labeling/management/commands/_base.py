"""What the import/export commands share: ApplicationError becomes a clean CommandError."""

from django.core.management.base import BaseCommand, CommandError

from labeling.errors import ApplicationError


class ServiceCommand(BaseCommand):
    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except ApplicationError as exc:
            raise CommandError(str(exc)) from exc
