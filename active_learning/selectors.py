"""Reads for the loop's pages and API: runs, generations and model versions of a project."""

import json

from django.db.models import Avg, Count, Q
from django.utils import timezone

from active_learning.generator.params import GENERATED_SOURCE
from active_learning.models import (
    ACTIVE_RUN_STATUSES,
    ModelStatus,
    ModelVersion,
    Run,
    SolutionScore,
)
from labeling import agreement
from labeling.errors import NotFound
from labeling.models import (
    Generation,
    LabelingStatus,
    Project,
    Solution,
    StepRating,
)

RUN_HISTORY = 20  # runs shown on the loop page


def run_for_project(project: Project, run_id: int) -> Run:
    run = (
        Run.objects.filter(project=project, pk=run_id)
        .select_related("model_version", "generation", "requested_by")
        .first()
    )
    if run is None:
        raise NotFound("No such run.")
    return run


def run_elapsed_seconds(run: Run) -> float | None:
    if run.started_at is None:
        return None
    end = run.finished_at or timezone.now()
    return (end - run.started_at).total_seconds()


def run_waiting_for(run: Run) -> str | None:
    """What an active run waits for before training, when known (see warmup.waiting_for)."""
    from active_learning.warmup import waiting_for

    return waiting_for(run)


def run_param_rows(params: dict | None, prefix: str = "") -> list[tuple[str, str]]:
    """A run's parameters (Run.params, as `loop.params.run_params` records them) as (name,
    value) rows for a page: nested dicts flattened to dotted names (`train.epochs`), booleans
    as yes/no, None and empty values (an empty nested dict too) as an em dash, lists
    comma-joined, a text of whitespace only (a step separator "\\n\\n") as its JSON string
    literal so it is not blank, everything else as str()."""
    rows: list[tuple[str, str]] = []
    for name, value in (params or {}).items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            rows.extend(run_param_rows(value, prefix=f"{key}."))
        else:
            rows.append((key, _param_text(value)))
    return rows


def _param_text(value) -> str:
    if value is None or value in ("", {}, [], ()):
        return "—"
    if isinstance(value, str) and not value.strip():
        return json.dumps(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_param_text(item) for item in value)
    return str(value)


def loop_overview(project: Project) -> dict:
    runs = list(
        Run.objects.filter(project=project)
        .select_related("model_version", "generation", "requested_by")
        .order_by("-id")[:RUN_HISTORY]
    )
    active = next((r for r in runs if r.status in ACTIVE_RUN_STATUSES), None)
    return {
        "active_run": active,
        "runs": runs,
        "current_model": ModelVersion.objects.filter(project=project, is_current=True).first(),
        "current_generation": Generation.objects.filter(project=project, number__gte=0)
        .order_by("-number")
        .first(),
    }


def _generation_agreement(generation: Generation) -> dict:
    """Step agreement among the generation's submitted regular labelings (first completion)."""
    rows = StepRating.objects.filter(
        labeling__generation=generation,
        labeling__status=LabelingStatus.SUBMITTED,
        labeling__is_quality_control=False,
        labeling__is_screening=False,
        completion_index=0,
        rating__isnull=False,
    ).values_list("labeling__solution_id", "step_index", "labeling__labeler_id", "rating")
    table = agreement.Ratings.from_triples(
        ((solution, step), labeler, rating) for solution, step, labeler, rating in rows
    )
    return {
        "percent_agreement": agreement.percent_agreement(table),
        "krippendorff_alpha": agreement.krippendorff_alpha(table, "ordinal"),
    }


def _asked_share(generation: Generation) -> float | None:
    """The wrong-answer share the selection was asked for (None: uniform, imported, screening)."""
    params = generation.params if isinstance(generation.params, dict) else {}
    if generation.strategy not in ("convincing_wrong", "wrong_random"):
        return None
    share = params.get("wrong_share")
    return float(share) if isinstance(share, int | float) and not isinstance(share, bool) else None


def generations_overview(project: Project) -> list[dict]:
    """Per labeling generation: size, share of wrong answers served (graded wrong among its
    items, counted now) against the share asked for (the selection's `wrong_share`, for
    strategies that ask for one), the shortfall the selection recorded, mean PRM score (the
    selecting model's, on the items), labels collected, agreement, and who chose it."""
    generations = (
        Generation.objects.filter(project=project, number__gte=0)
        .annotate(
            size=Count("items", distinct=True),
            wrong=Count("items", filter=Q(items__solution__is_correct=False), distinct=True),
            mean_score=Avg("items__score"),
        )
        .order_by("-number")
    )
    labels = dict(
        Generation.objects.filter(project=project, number__gte=0)
        .annotate(
            n=Count(
                "labelings",
                filter=Q(
                    labelings__status=LabelingStatus.SUBMITTED,
                    labelings__is_quality_control=False,
                    labelings__is_screening=False,
                ),
            )
        )
        .values_list("pk", "n")
    )
    rows = []
    for generation in generations:
        rows.append(
            {
                "generation": generation,
                "size": generation.size,
                "wrong_share": generation.wrong / generation.size if generation.size else None,
                "wrong_share_asked": _asked_share(generation),
                "wrong_shortfall": ((generation.params or {}).get("selection") or {}).get(
                    "wrong_shortfall"
                )
                if isinstance(generation.params, dict)
                else None,
                "mean_score": generation.mean_score,
                "labels": labels.get(generation.pk, 0),
                "model_version": generation.params.get("model_version"),
                "run": generation.params.get("run"),
                **_generation_agreement(generation),
            }
        )
    return rows


def model_versions_overview(project: Project) -> list[dict]:
    chose: dict[int, list[int]] = {}
    for number, params in Generation.objects.filter(project=project, number__gte=0).values_list(
        "number", "params"
    ):
        if isinstance(params, dict) and params.get("model_version"):
            chose.setdefault(params["model_version"], []).append(number)
    rows = []
    for version in ModelVersion.objects.filter(project=project).order_by("-id"):
        metrics = version.metrics or {}
        processbench = metrics.get("processbench") or {}
        rows.append(
            {
                "version": version,
                "labels": (version.data_snapshot or {}).get("labelings"),
                # one labeling gives one example per rated path (the run log names both)
                "examples": (version.data_snapshot or {}).get("examples"),
                "held_out_auc": metrics.get("held_out_step_roc_auc"),
                "processbench_auc": processbench.get("step_roc_auc"),
                "processbench_f1": (processbench.get("first_error") or {}).get("f1"),
                "generations": sorted(chose.get(version.pk, [])),
                "seconds": (version.finished_at - version.started_at).total_seconds()
                if version.finished_at and version.started_at
                else None,
            }
        )
    return rows


def quality_series(versions: list[dict]) -> dict[str, list[tuple[float, float]]]:
    """(labels collected, metric) per ready model version, oldest first, for the chart."""
    ready = [
        row
        for row in reversed(versions)
        if row["version"].status == ModelStatus.READY and row["labels"] is not None
    ]
    series = {
        "held-out step ROC AUC": [
            (row["labels"], row["held_out_auc"]) for row in ready if row["held_out_auc"] is not None
        ],
        "ProcessBench step ROC AUC": [
            (row["labels"], row["processbench_auc"])
            for row in ready
            if row["processbench_auc"] is not None
        ],
        "ProcessBench first-error F1": [
            (row["labels"], row["processbench_f1"])
            for row in ready
            if row["processbench_f1"] is not None
        ],
    }
    return {name: points for name, points in series.items() if points}


def generator_overview(project: Project) -> dict:
    """The generator page's figures: the project's generator runs (newest first, 20 at most)
    and its problems and generated candidates."""
    runs = list(
        Run.objects.filter(project=project, params__generate__only=True)
        .select_related("requested_by")
        .order_by("-id")[:20]
    )
    return {
        "generator_runs": runs,
        "problems": project.problems.count(),
        "generated": Solution.objects.filter(project=project, source=GENERATED_SOURCE).count(),
    }


def current_step_scores(project_id: int, solution_id: int) -> tuple[int, list[float]] | None:
    """`(model_version_id, step_scores)` of the project's current PRM's stored scoring of the
    solution (`SolutionScore.step_scores`: per kept step 1 - P(negative)), or None when there
    is no current version or it has not scored the solution. One query. What labeling's task
    hints read, through `labeling.hooks.step_scores_reader` (provided in apps.py)."""
    row = (
        SolutionScore.objects.filter(
            solution_id=solution_id,
            model_version__project_id=project_id,
            model_version__is_current=True,
        )
        .values_list("model_version_id", "step_scores")
        .first()
    )
    return None if row is None else (row[0], list(row[1]))
