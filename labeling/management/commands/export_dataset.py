from pathlib import Path

from django.core.management.base import CommandError

from labeling.exports import FilterError, NeutralAs, write_export
from labeling.management.commands._base import ServiceCommand
from labeling.models import ExportFormat, FinishReason, Project


class Command(ServiceCommand):
    help = (
        "Export a project's submitted labelings in a research format (the API's export formats): "
        "prm800k, training_jsonl, training_parquet, steps_csv, steps_parquet."
    )

    def add_arguments(self, parser):
        parser.add_argument("out", help="output file")
        parser.add_argument("--project", required=True)
        parser.add_argument("--format", required=True, choices=ExportFormat.values)
        parser.add_argument("--generation", type=int)
        parser.add_argument("--labeler", help="user name or labeler UUID")
        parser.add_argument("--submitted-after", help="ISO 8601, inclusive")
        parser.add_argument("--submitted-before", help="ISO 8601, exclusive")
        parser.add_argument(
            "--finish-reason", action="append", choices=FinishReason.values, default=None
        )
        parser.add_argument("--quality-control", choices=["true", "false"])
        parser.add_argument("--screening", choices=["true", "false"])
        parser.add_argument(
            "--neutral", choices=[n.value for n in NeutralAs], default=NeutralAs.POSITIVE.value
        )

    def handle(self, *args, out, project, **options):
        try:
            project_obj = Project.objects.get(name=project)
        except Project.DoesNotExist:
            raise CommandError(f"No project named {project!r}.") from None
        filters = {
            key: options[option]
            for key, option in [
                ("generation", "generation"),
                ("labeler", "labeler"),
                ("submitted_after", "submitted_after"),
                ("submitted_before", "submitted_before"),
                ("finish_reason", "finish_reason"),
                ("is_quality_control", "quality_control"),
                ("is_screening", "screening"),
            ]
            if options[option] is not None
        }
        filters["neutral"] = options["neutral"]
        path = Path(out)
        if not path.parent.is_dir():
            raise CommandError(f"{out}: no such folder {str(path.parent)!r}")
        try:
            rows = write_export(
                project=project_obj, export_format=options["format"], filters=filters, path=path
            )
        except FilterError as exc:
            raise CommandError(f"Invalid filters: {exc}") from None
        self.stderr.write(f"Wrote {rows} rows to {out}.")
