"""Training a PRM version from a project's labelings: the training data (the held-out and
validation splits by a hash of the solution id), and training with atomic publishing of the
version's checkpoint. Torch is imported inside the functions."""

import hashlib
import json
import shutil
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from active_learning.models import ModelStatus, ModelVersion
from active_learning.services.scoring import feature_cache_for, scoring_device
from labeling.errors import ApplicationError
from labeling.models import Adjudication, FinishReason, Labeling, LabelingStatus, Project
from training_recipe.prm800k import Example, from_first_error

HELD_OUT_SHARE = 0.1  # solutions whose labels evaluate rather than train each version
# Of the training solutions, this share decides early stopping and the best weights (a split of
# its own: the held-out split's figures would be biased if it also chose when to stop).
VALIDATION_SHARE = 0.1


def _held_out(solution_id: int) -> bool:
    """A fixed ~10% of solutions, by a hash of the id (stable across versions and runs)."""
    digest = hashlib.sha256(f"held-out:{solution_id}".encode()).digest()
    return digest[0] < 256 * HELD_OUT_SHARE


def training_labelings(project: Project) -> list[dict]:
    rows = (
        Labeling.objects.filter(
            project=project,
            status=LabelingStatus.SUBMITTED,
            finish_reason__in=[FinishReason.FOUND_ERROR, FinishReason.SOLUTION],
        )
        .order_by("id")
        .values_list(
            "id",
            "solution_id",
            "solution__problem__text",
            "steps",
            "finish_reason",
            "is_quality_control",
        )
    )
    return [
        {
            "id": pk,
            "solution_id": sid,
            "problem": problem,
            "steps": steps,
            "finish_reason": reason,
            "is_quality_control": qc,
        }
        for pk, sid, problem, steps, reason, qc in rows.iterator(chunk_size=2000)
    ]


def adjudicated_examples(project: Project) -> dict[int, Example]:
    """{solution id: its training example} for the project's adjudicated solutions
    (training_recipe.prm800k.from_first_error: steps up to the adjudicated first error, that
    one negative, the others positive; all positive for "no error"), in solution order."""
    rows = (
        Adjudication.objects.filter(project=project)
        .order_by("solution_id")
        .values_list(
            "pk", "solution_id", "solution__problem__text", "solution__steps", "first_error"
        )
    )
    examples = {}
    for pk, solution_id, problem, steps, first_error in rows:
        example = from_first_error(problem, steps, first_error, source=f"adjudication:{pk}")
        example.meta["solution_id"] = solution_id
        examples[solution_id] = example
    return examples


def _validation(solution_id: int) -> bool:
    """A fixed ~10% of the training solutions (another hash than `_held_out`)."""
    digest = hashlib.sha256(f"validation:{solution_id}".encode()).digest()
    return digest[0] < 256 * VALIDATION_SHARE


def split_train_validation(examples: list) -> tuple[list, list]:
    """(train, validation) of the training examples, by solution; a pool too small to spare
    one keeps everything for training (no early stopping then)."""
    validation = [e for e in examples if _validation(e.meta.get("solution_id") or 0)]
    train = [e for e in examples if not _validation(e.meta.get("solution_id") or 0)]
    if not train:
        return examples, []
    return train, validation


def training_data(project: Project, neutral: str = "positive"):
    """(train examples, held-out examples, snapshot) from every usable labeling."""
    from active_learning.prm import data

    labelings = training_labelings(project)
    # A lead's adjudicated first error replaces the solution's labelings (docs/model-assisted.md)
    adjudicated = adjudicated_examples(project)
    examples = data.from_labelings(
        [row for row in labelings if row["solution_id"] not in adjudicated],
        data.NeutralAs(neutral),
    )
    examples += list(adjudicated.values())
    train = [e for e in examples if not _held_out(e.meta["solution_id"])]
    held_out = [e for e in examples if _held_out(e.meta["solution_id"])]
    fingerprint = hashlib.sha256(
        json.dumps([[e.problem, e.steps, e.labels] for e in examples]).encode()
    ).hexdigest()
    snapshot = {
        "fingerprint": fingerprint,
        "labelings": len(labelings),
        "last_labeling": labelings[-1]["id"] if labelings else None,
        "examples": len(examples),
        "train_examples": len(train),
        "held_out_examples": len(held_out),
        "label_counts": data.label_counts(examples),
        "neutral_as": neutral,
    }
    return train, held_out, snapshot


def model_version_get(spec: str | int, project: Project | None = None) -> ModelVersion:
    """A ready version by number, or `latest` (the newest ready one, of `project` if given)."""
    versions = ModelVersion.objects.filter(status=ModelStatus.READY)
    if project is not None:
        versions = versions.filter(project=project)
    if str(spec) == "latest":
        version = versions.order_by("-id").first()
    elif str(spec).isdigit():
        version = versions.filter(pk=int(spec)).first()
    else:
        raise ApplicationError(f"--model must be a version number or 'latest', not {spec!r}")
    if version is None:
        raise ApplicationError(f"No ready model version {spec!r}.")
    return version


def model_train(
    *,
    project: Project,
    backbone: str | None = None,
    config=None,
    keep_layers: int | None = None,
    neutral: str = "positive",
    progress: Callable | None = None,
    version: ModelVersion | None = None,
    make_current: bool = True,
) -> ModelVersion:
    """Train a new version on all usable labels, evaluate it on the held-out ones and publish
    it as the project's current model. Publishing is atomic: the checkpoint is written under a
    temporary name, renamed into place, and only then does one transaction mark the version
    ready and current. A failed run is marked failed with its log; a killed one stays
    `training` and never becomes current. With `make_current=False` the version is published
    ready but not current (the loop switches it together with the new generation)."""
    from active_learning.prm import backbones, evaluation
    from active_learning.prm.model import save_checkpoint
    from active_learning.prm.scoring import score
    from active_learning.prm.tokenization import StepTokenizer
    from active_learning.prm.training import TrainConfig, train

    config = config or TrainConfig()
    backbone = backbone or settings.PRM_BACKBONE
    train_examples, held_out, snapshot = training_data(project, neutral)
    if not train_examples:
        raise ApplicationError(
            f"Project {project.name!r} has no usable labels to train on (labelings that ended "
            "found_error or solution)."
        )
    parent = ModelVersion.objects.filter(project=project, is_current=True).first()
    if version is None:
        version = ModelVersion.objects.create(project=project, backbone=backbone, parent=parent)
    version.status, version.backbone, version.parent = ModelStatus.TRAINING, backbone, parent
    version.started_at = timezone.now()
    version.data_snapshot = snapshot
    version.settings = {**asdict(config), "keep_layers": keep_layers, "neutral_as": neutral}
    version.save()
    final = Path(settings.MODELS_DIR) / f"project-{project.pk}" / f"v{version.pk}"
    partial = final.with_name(final.name + ".partial")
    try:
        model, tokenizer = backbones.load(
            backbone,
            cache_dir=Path(settings.MODELS_DIR) / "backbones",
            keep_layers=keep_layers,
            attn_implementation=config.attn_implementation,
            device=scoring_device(),
        )
        step_tokenizer = StepTokenizer(tokenizer, max_length=config.max_length)
        fit, validation = split_train_validation(train_examples)
        with feature_cache_for(version):  # head mode: the backbone runs once per input, ever
            model, report = train(model, step_tokenizer, fit, validation, config, progress)
            metrics = {
                "train": asdict(report),
                "dtypes": report.dtypes,
                "throughput": report.throughput,
                "validation_examples": len(validation),
                # recorded with or without a held-out set (a small project may have none), so
                # every version says where its scoring truncates
                "max_length": config.max_length,
                "held_out_solutions": len(held_out),
                "held_out_truncated": 0,
                "held_out_steps": 0,
            }
            if held_out:
                good, values, truncated = [], [], 0
                for example, scored in zip(
                    held_out, score(model, step_tokenizer, held_out), strict=True
                ):
                    truncated += scored.truncated  # steps cut at max_length are not evaluated
                    for label, value in zip(example.labels, scored.step_scores, strict=False):
                        if label is not None:
                            good.append(label != 0)
                            values.append(value)
                metrics["held_out_step_roc_auc"] = evaluation.roc_auc(good, values)
                metrics["held_out_steps"] = len(values)
                metrics["held_out_truncated"] = truncated
        shutil.rmtree(partial, ignore_errors=True)
        save_checkpoint(
            model,
            tokenizer,
            partial,
            {
                "backbone": backbone,
                "version": version.pk,
                "data": snapshot,
                "settings": version.settings,
                "dtypes": report.dtypes,
                "metrics": metrics,
            },
        )
        shutil.rmtree(final, ignore_errors=True)
        partial.rename(final)
        with transaction.atomic():
            if make_current:
                ModelVersion.objects.filter(project=project, is_current=True).update(
                    is_current=False
                )
            version.status = ModelStatus.READY
            version.is_current = make_current
            version.checkpoint = str(final)
            version.metrics = metrics
            version.finished_at = timezone.now()
            version.save()
    except BaseException as exc:  # KeyboardInterrupt and task time limits too
        shutil.rmtree(partial, ignore_errors=True)
        version.status = ModelStatus.FAILED
        version.log = "".join(traceback.format_exception(exc))[-20000:]
        version.finished_at = timezone.now()
        version.save(update_fields=["status", "log", "finished_at", "updated_at"])
        raise
    return version
