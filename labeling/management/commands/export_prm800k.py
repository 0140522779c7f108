import sys

from django.core.management.base import CommandError

from labeling.management.commands._base import ServiceCommand
from labeling.models import Project
from labeling.services.prm800k_export import prm800k_export


class Command(ServiceCommand):
    help = "Export a project's submitted labelings as PRM800K JSON Lines."

    def add_arguments(self, parser):
        parser.add_argument("out", help="output file ('-' for standard output)")
        parser.add_argument("--project", required=True)
        parser.add_argument("--generation", type=int, default=None)

    def handle(self, *args, out, project, generation, **options):
        try:
            project_obj = Project.objects.get(name=project)
        except Project.DoesNotExist:
            raise CommandError(f"No project named {project!r}.") from None
        if out == "-":
            count = prm800k_export(project=project_obj, out=sys.stdout, generation=generation)
        else:
            try:
                # newline="" keeps "\n" line endings on every platform.
                handle = open(out, "w", encoding="ascii", newline="")  # noqa: SIM115
            except OSError as exc:
                raise CommandError(f"{out}: cannot write ({exc.strerror})") from None
            with handle:
                count = prm800k_export(project=project_obj, out=handle, generation=generation)
        self.stderr.write(f"Exported {count} labelings.")
