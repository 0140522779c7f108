"""The PRM commands end to end, ending in an evaluation report
(`active_learning/services/evaluation.py`, `manage.py train_prm`, `score_solutions`,
`evaluate_prm`)."""

import json

import pytest
from django.core.management import call_command

from active_learning.models import ModelVersion
from tests.active_learning.prm.conftest import synthetic_examples
from tests.active_learning.services.conftest import labeled_project

pytestmark = pytest.mark.django_db


def test_commands_train_score_evaluate(tiny_backbone, tmp_path, capsys):
    project = labeled_project(40)
    call_command(
        "train_prm",
        "--project",
        project.name,
        "--backbone",
        tiny_backbone,
        "--epochs",
        "1",
        "--mode",
        "head",
        "--max-length",
        "256",
    )
    version = ModelVersion.objects.get()
    records = [
        {
            "id": f"s{i}",
            "problem": e.problem,
            "steps": e.steps,
            "label": next((j for j, label in enumerate(e.labels) if label == 0), -1),
            "final_answer_correct": True,
        }
        for i, e in enumerate(synthetic_examples(20, seed=5))
    ]
    pool = tmp_path / "pool.json"
    pool.write_text(json.dumps(records))
    out = tmp_path / "scores.jsonl"
    call_command("score_solutions", "--model", "latest", "--input", str(pool), "--output", str(out))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"] for line in lines] == [r["id"] for r in records]
    first = lines[0]
    assert len(first["step_scores"]) == len(records[0]["steps"])
    assert first["solution_score"] == pytest.approx(__import__("math").prod(first["step_scores"]))
    call_command(
        "evaluate_prm",
        "--model",
        str(version.pk),
        "--processbench",
        str(pool),
        "--report",
        str(tmp_path / "report"),
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["solutions"] == 20 and 0 <= report["step_roc_auc"] <= 1
    assert "first-error F1" in (tmp_path / "report.md").read_text()
    version.refresh_from_db()
    assert "processbench" in version.metrics
