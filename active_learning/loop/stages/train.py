"""Stage 1 of a run, on a `gpu` worker: train the run's PRM version on every usable label
(published ready, not current: only the publish stage makes it current)."""

from dataclasses import fields

from active_learning.loop.runs import StageProgress, run_log, stage_enter
from active_learning.models import ModelVersion, Run, RunStage, TrainingMode


def run_train(run_id: int) -> ModelVersion:
    """Train the run's model version (published ready, not current) and link it to the run."""
    from active_learning.prm.training import TrainConfig
    from active_learning.services.training import model_train

    run = stage_enter(run_id, RunStage.TRAIN, "training a new PRM version")
    params = run.params
    project = run.project
    version = ModelVersion.objects.create(
        project=project,
        backbone=params["backbone"],
        parent=ModelVersion.objects.filter(project=project, is_current=True).first(),
    )
    Run.objects.filter(pk=run_id).update(model_version=version)
    train_fields = {f.name for f in fields(TrainConfig)}
    mode = resolve_training_mode(params["training_mode"])
    if mode != params["training_mode"]:
        run_log(run_id, f"training mode {params['training_mode']}: {mode} on this worker")
    config = TrainConfig(
        mode=mode,
        epochs=params["epochs"],
        seed=params["seed"],
        **{k: v for k, v in params.get("train", {}).items() if k in train_fields},
    )
    progress = StageProgress(run, RunStage.TRAIN)
    version = model_train(
        project=project,
        backbone=params["backbone"],
        config=config,
        keep_layers=params["keep_layers"],
        progress=_train_progress(progress, config.mode),
        version=version,
        make_current=False,
    )
    rate = version.metrics.get("throughput") or {}
    if rate:
        # kept beside the generate stage's figures (read after that stage ended)
        Run.objects.filter(pk=run_id).update(throughput={**run.throughput, "training": rate})
    run_log(
        run_id,
        f"trained model version {version.pk} on {trained_on(version.data_snapshot)} "
        f"(held-out step ROC AUC: {version.metrics.get('held_out_step_roc_auc')}; "
        f"{version.metrics.get('held_out_truncated', 0)} of "
        f"{version.metrics.get('held_out_solutions', 0)} held-out solutions truncated at "
        f"{version.metrics.get('max_length')} tokens)",
    )
    return version


def trained_on(snapshot: dict) -> str:
    """What a version was trained on, with each number named: "16 labelings (21 examples)".
    A labeling gives one example per rated path (alternatives a labeler rated count too), so
    examples and labelings differ; the generations page shows labelings, the same number."""
    labelings, examples = snapshot.get("labelings"), snapshot.get("examples")
    return f"{labelings} labelings ({examples} examples, held-out ones included)"


def resolve_training_mode(mode: str) -> str:
    """`auto`: LoRA where this worker has a CUDA device, head-only training on a CPU worker;
    any other mode as it is."""
    if mode != TrainingMode.AUTO:
        return mode
    import torch

    return TrainingMode.LORA if torch.cuda.is_available() else TrainingMode.HEAD


def train_progress_note(p) -> str:
    """What a training progress report means, for the run page ("training epoch 2/3 · step
    40/120"; head mode first reads the backbone's features)."""
    if p.phase == "features":
        return f"training: backbone features, batch {p.step}/{p.total_steps}"
    epochs = getattr(p, "epochs", 0) or 0
    epoch = min(int(p.epoch) + 1, epochs) if epochs else int(p.epoch) + 1
    of = f"/{epochs}" if epochs else ""
    return f"training epoch {epoch}{of} · step {p.step}/{p.total_steps}"


def _train_progress(progress: StageProgress, mode: str):
    def report(p) -> None:
        fraction = p.step / p.total_steps if p.total_steps else 0.0
        if mode == "head":  # features (one pass of the frozen backbone), then the head
            fraction = fraction / 2 if p.phase == "features" else 0.5 + fraction / 2
        progress(fraction, note=train_progress_note(p))

    return report
