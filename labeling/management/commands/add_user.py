from django.core.management.base import CommandError

from labeling.management.commands._base import ServiceCommand
from labeling.models import Project, Role
from labeling.services.users import user_create


class Command(ServiceCommand):
    help = "Create a user with a role (and project membership) and print an API token for it."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--password", default=None, help="omit for an API-only user")
        parser.add_argument("--project", default=None, help="make the user a member of it")

    def handle(self, *args, name, role, password, project, **options):
        project_obj = None
        if project is not None:
            try:
                project_obj = Project.objects.get(name=project)
            except Project.DoesNotExist:
                raise CommandError(f"No project named {project!r}.") from None
        user, token = user_create(username=name, role=role, password=password, project=project_obj)
        self.stdout.write(f"Created {role} {user.username} (labeler {user.labeler_uuid}).")
        self.stdout.write(f"API token: {token.key}")
