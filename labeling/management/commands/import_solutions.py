from labeling.management.commands._base import ServiceCommand
from labeling.services.solutions import solutions_import


class Command(ServiceCommand):
    help = (
        "Import candidate solutions (ProcessBench JSON, or JSON Lines with problem, steps, "
        "answer, reference_answer, generator) into a generation of a project."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--project", required=True, help="project name (created if missing)")
        parser.add_argument(
            "--generation", type=int, default=None, help="default: a new generation"
        )

    def handle(self, *args, file, project, generation, **options):
        result = solutions_import(path=file, project_name=project, generation=generation)
        self.stdout.write(result.summary())
