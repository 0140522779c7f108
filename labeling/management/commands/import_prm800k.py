import sys

from labeling.management.commands._base import ServiceCommand
from labeling.models import Project
from labeling.record_files import open_input
from labeling.services.prm800k import prm800k_import
from labeling.services.quality import gold_from_quality_control_records


class Command(ServiceCommand):
    help = "Import PRM800K label records (JSON Lines) into a project, all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", help="PRM800K .jsonl file ('-' for standard input)")
        parser.add_argument("--project", required=True, help="project name (created if missing)")
        parser.add_argument(
            "--qc-gold",
            action="store_true",
            help="make the quality-control records gold for their solutions (first per solution)",
        )

    def handle(self, *args, file, project, qc_gold, **options):
        stream = sys.stdin.buffer if file == "-" else open_input(file)
        name = "<stdin>" if file == "-" else file
        with stream:
            result = prm800k_import(
                stream=stream,
                name=name,
                project_name=project,
                progress=self._progress if self.stderr.isatty() else None,
            )
        self.stdout.write(result.summary())
        if qc_gold:
            made = gold_from_quality_control_records(Project.objects.get(name=project.strip()))
            self.stdout.write(f"{made} quality-control records made gold.")

    def _progress(self, lines: int) -> None:
        self.stderr.write(f"  {lines} lines read", ending="\r")
