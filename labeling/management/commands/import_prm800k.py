import sys

from labeling.management.commands._base import ServiceCommand
from labeling.record_files import open_input
from labeling.services.prm800k import prm800k_import


class Command(ServiceCommand):
    help = "Import PRM800K label records (JSON Lines) into a project, all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", help="PRM800K .jsonl file ('-' for standard input)")
        parser.add_argument("--project", required=True, help="project name (created if missing)")

    def handle(self, *args, file, project, **options):
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

    def _progress(self, lines: int) -> None:
        self.stderr.write(f"  {lines} lines read", ending="\r")
