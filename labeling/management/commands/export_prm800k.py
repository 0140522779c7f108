import io
import sys
from pathlib import Path

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
        # UTF-8: a line imported as written (raw non-ASCII, e.g. by `jq -c`) is exported as it
        # was, byte for byte; lines this platform writes itself are ASCII (`json.dumps`).
        if out == "-":
            stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
            count = prm800k_export(project=project_obj, out=stdout, generation=generation)
            stdout.detach()  # flushes; sys.stdout stays usable
        else:
            # Written under a temporary name and renamed when complete: a failed export never
            # leaves a partial (or empty) file where the output should be.
            target = Path(out)
            partial = target.with_name(target.name + ".partial")
            try:
                # newline="" keeps "\n" line endings on every platform.
                handle = open(partial, "w", encoding="utf-8", newline="")  # noqa: SIM115
            except OSError as exc:
                raise CommandError(f"{out}: cannot write ({exc.strerror})") from None
            try:
                with handle:
                    count = prm800k_export(project=project_obj, out=handle, generation=generation)
                partial.replace(target)
            finally:
                partial.unlink(missing_ok=True)
        self.stderr.write(f"Exported {count} labelings.")
