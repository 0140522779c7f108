import json

from active_learning.services.scoring import examples_score
from active_learning.services.training import model_version_get
from labeling.errors import ApplicationError
from labeling.management.commands._base import ServiceCommand


class Command(ServiceCommand):
    help = (
        "Score solutions from a ProcessBench-style JSON/JSONL file (problem, steps) and write "
        "JSONL lines with id, step_scores, solution_score."
    )

    def add_arguments(self, parser):
        parser.add_argument("--model", required=True, help="version number or 'latest'")
        parser.add_argument("--input", required=True)
        parser.add_argument("--output", required=True)
        parser.add_argument("--aggregation", choices=["product", "min"], default="product")

    def handle(self, *args, model, input, output, aggregation, **options):
        from active_learning.prm import data

        version = model_version_get(model)
        try:
            records = data.read_processbench(input)
        except (OSError, ValueError) as exc:
            raise ApplicationError(f"{input}: cannot read records ({exc})") from None
        for i, record in enumerate(records):
            if not isinstance(record.get("problem"), str) or not isinstance(
                record.get("steps"), list
            ):
                raise ApplicationError(f"{input}: record {i}: needs 'problem' and a 'steps' list")
        examples = (
            data.Example(
                data.strip_suffix(r["problem"]), list(r["steps"]), [None] * len(r["steps"])
            )
            for r in records
        )
        count = 0
        with open(output, "w", encoding="utf-8") as out:
            for record, scored in zip(
                records, examples_score(version, examples, aggregation), strict=True
            ):
                out.write(
                    json.dumps(
                        {
                            "id": record.get("id", count),
                            "step_scores": scored.step_scores,
                            "solution_score": scored.solution_score,
                            "truncated": scored.truncated,
                        }
                    )
                    + "\n"
                )
                count += 1
        self.stdout.write(f"Scored {count} solutions with model version {version.pk}.")
