import json
from pathlib import Path

from active_learning.services.evaluation import processbench_evaluate, report_markdown
from active_learning.services.training import model_version_get
from labeling.management.commands._base import ServiceCommand


class Command(ServiceCommand):
    help = "Evaluate a PRM version on ProcessBench; writes OUT.json and OUT.md."

    def add_arguments(self, parser):
        parser.add_argument("--model", required=True, help="version number or 'latest'")
        parser.add_argument("--processbench", required=True)
        parser.add_argument("--report", required=True, help="path without extension, or .json")

    def handle(self, *args, model, processbench, report, **options):
        version = model_version_get(model)
        result = processbench_evaluate(version=version, path=processbench)
        base = Path(report).with_suffix("")
        base.parent.mkdir(parents=True, exist_ok=True)
        base.with_suffix(".json").write_text(json.dumps(result, indent=2))
        base.with_suffix(".md").write_text(report_markdown(result))
        version.metrics = {**version.metrics, "processbench": result}
        version.save(update_fields=["metrics", "updated_at"])
        self.stdout.write(report_markdown(result))
