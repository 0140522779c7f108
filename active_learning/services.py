"""Orchestrating the PRM from Django: training data from labelings, training and atomic
publishing of a model version, scoring solutions, evaluation reports.

`active_learning.prm` does the model work on plain data; this module reads and writes the
database and the checkpoint folders. Torch is imported lazily, so the web process never loads it.
"""

import hashlib
import json
import logging
import shutil
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from active_learning.models import ModelStatus, ModelVersion, SolutionScore
from labeling.errors import ApplicationError
from labeling.models import FinishReason, Labeling, LabelingStatus, Project, Solution

logger = logging.getLogger(__name__)

HELD_OUT_SHARE = 0.1  # solutions whose labels evaluate rather than train each version
SCORE_BATCH = 16


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


def training_data(project: Project, neutral: str = "positive"):
    """(train examples, held-out examples, snapshot) from every usable labeling."""
    from active_learning.prm import data

    labelings = training_labelings(project)
    examples = data.from_labelings(labelings, data.NeutralAs(neutral))
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
            backbone, cache_dir=Path(settings.MODELS_DIR) / "backbones", keep_layers=keep_layers
        )
        step_tokenizer = StepTokenizer(tokenizer, max_length=config.max_length)
        model, report = train(model, step_tokenizer, train_examples, held_out, config, progress)
        metrics = {"train": asdict(report)}
        if held_out:
            good, values = [], []
            for example, scored in zip(
                held_out, score(model, step_tokenizer, held_out), strict=True
            ):
                for label, value in zip(example.labels, scored.step_scores, strict=False):
                    if label is not None:
                        good.append(label != 0)
                        values.append(value)
            metrics["held_out_step_roc_auc"] = evaluation.roc_auc(good, values)
            metrics["held_out_steps"] = len(values)
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


_loaded: dict[int, tuple] = {}


def _model_for(version: ModelVersion):
    """The version's model, loaded once per worker process."""
    if version.pk not in _loaded:
        from active_learning.prm.model import load_checkpoint

        _loaded.clear()  # one model in memory at a time
        _loaded[version.pk] = load_checkpoint(version.checkpoint)
    return _loaded[version.pk]


def examples_score(version: ModelVersion, examples: Iterable, aggregation: str = "product"):
    from active_learning.prm.scoring import score
    from active_learning.prm.tokenization import StepTokenizer

    model, tokenizer, metadata = _model_for(version)
    max_length = metadata.get("settings", {}).get("max_length", 1024)
    yield from score(
        model,
        StepTokenizer(tokenizer, max_length),
        examples,
        batch_size=SCORE_BATCH,
        aggregation=aggregation,
    )


def solutions_score(*, version: ModelVersion, solution_ids: list[int]) -> int:
    """Score solutions with a version and store the scores (and the latest score on the
    solution when the version is current). Safe to run twice."""
    from active_learning.prm.data import Example

    solutions = list(
        Solution.objects.filter(pk__in=solution_ids).select_related("problem").order_by("pk")
    )
    examples = (Example(s.problem.text, list(s.steps), [None] * len(s.steps)) for s in solutions)
    rows = []
    for solution, scored in zip(solutions, examples_score(version, examples), strict=True):
        rows.append(
            SolutionScore(
                model_version=version,
                solution=solution,
                score=scored.solution_score,
                step_scores=scored.step_scores,
                truncated=scored.truncated,
            )
        )
        solution.prm_score = scored.solution_score
    with transaction.atomic():
        SolutionScore.objects.filter(model_version=version, solution__in=solutions).delete()
        SolutionScore.objects.bulk_create(rows)
        if version.is_current:
            Solution.objects.bulk_update(solutions, ["prm_score"], batch_size=1000)
    return len(rows)


def processbench_evaluate(*, version: ModelVersion, path: str, aggregation="product") -> dict:
    """Evaluation report of a version on a ProcessBench file: step ROC AUC, first-error F1 with a
    threshold chosen on a validation half of the problems, best-of-N against majority voting."""
    from active_learning.prm import data, evaluation
    from labeling.answers import final_answer

    try:
        records = data.read_processbench(path)
    except (OSError, ValueError) as exc:
        raise ApplicationError(f"{path}: cannot read ProcessBench records ({exc})") from None
    if not records:
        raise ApplicationError(f"{path}: no records")
    examples = [
        data.Example(data.strip_suffix(r["problem"]), list(r["steps"]), [None] * len(r["steps"]))
        for r in records
    ]
    scored = list(examples_score(version, examples, aggregation))
    good, values = [], []
    validation, test = ([], []), ([], [])
    candidates = []
    for record, result in zip(records, scored, strict=True):
        label = record["label"]
        for i, value in enumerate(result.step_scores):
            if label == -1 or i <= label:
                good.append(label == -1 or i < label)
                values.append(value)
        half = validation if _held_out_half(record["problem"]) else test
        half[0].append(label)
        half[1].append(result.step_scores)
        candidates.append(
            (
                record["problem"],
                final_answer(record["steps"]),
                record.get("final_answer_correct"),
                result.solution_score,
            )
        )
    threshold = evaluation.choose_threshold(*validation) if validation[0] else 0.5
    first_error = evaluation.first_error_f1(*test, threshold) if test[0] else None
    best = evaluation.best_of_n(candidates)
    return {
        "model_version": version.pk,
        "backbone": version.backbone,
        "file": str(path),
        "solutions": len(records),
        "truncated": sum(r.truncated for r in scored),
        "step_roc_auc": evaluation.roc_auc(good, values),
        "steps": len(values),
        "first_error": asdict(first_error) if first_error else None,
        "threshold_chosen_on": f"{len(validation[0])} validation solutions",
        "best_of_n": asdict(best),
        "aggregation": aggregation,
    }


def _held_out_half(problem: str) -> bool:
    return hashlib.sha256(problem.encode()).digest()[0] < 128


def report_markdown(report: dict) -> str:
    fe = report["first_error"] or {}
    bon = report["best_of_n"]

    def fmt(value):
        return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else value

    return "\n".join(
        [
            f"# PRM evaluation: model version {report['model_version']}",
            "",
            f"Backbone `{report['backbone']}`; {report['solutions']} solutions from "
            f"`{report['file']}` ({report['truncated']} truncated).",
            "",
            "| metric | value |",
            "|---|---|",
            f"| step ROC AUC ({report['steps']} steps) | {fmt(report['step_roc_auc'])} |",
            f"| ProcessBench first-error F1 | {fmt(fe.get('f1'))} |",
            f"| accuracy on flawed solutions ({fe.get('flawed')}) | "
            f"{fmt(fe.get('error_accuracy'))} |",
            f"| accuracy on correct solutions ({fe.get('correct')}) | "
            f"{fmt(fe.get('correct_accuracy'))} |",
            f"| threshold (chosen on {report['threshold_chosen_on']}) | "
            f"{fmt(fe.get('threshold'))} |",
            f"| best-of-N accuracy, PRM ({bon['problems']} problems) | "
            f"{fmt(bon['prm_accuracy'])} |",
            f"| best-of-N accuracy, majority voting | {fmt(bon['majority_accuracy'])} |",
            "",
        ]
    )
