from labeling.management.commands._base import ServiceCommand
from labeling.services.problems import problems_import


class Command(ServiceCommand):
    help = (
        "Import MATH-style problems (JSON Lines with problem, solution, answer, subject, level, "
        "unique_id; or the MATH Parquet files) into a project."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--project", required=True, help="project name (created if missing)")

    def handle(self, *args, file, project, **options):
        result = problems_import(path=file, project_name=project)
        self.stdout.write(result.summary())
