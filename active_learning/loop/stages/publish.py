"""Stage 3 of a run, on the `default` queue: select the next generation from the scored
candidates and publish it with the run's model version, in one transaction. Only this stage
changes what annotators see; a run that dies earlier leaves the previous model and generation
current."""

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from active_learning import selection
from active_learning.loop.candidates import candidate_ids
from active_learning.loop.runs import LOG_LIMIT, log_line, stage_close, stage_enter
from active_learning.models import (
    ModelVersion,
    Run,
    RunStage,
    RunStatus,
    SolutionScore,
    TruncatedPolicy,
    WrongAllocation,
)
from labeling.models import Generation, GenerationItem, Project, Solution
from labeling.services.disagreement import disagreement_queue_fill, labeled_solution_ids


def run_publish(run_id: int) -> Run | None:
    """Select the next generation and publish it with the run's model version, atomically."""
    run = Run.objects.filter(pk=run_id).first()
    if run is None or run.status != RunStatus.RUNNING or run.generation_id:
        return None
    stage_enter(run_id, RunStage.SELECT, "selecting the next generation")
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        if run.status != RunStatus.RUNNING:
            return None  # published by a duplicate delivery, or failed meanwhile
        project, params, version = run.project, run.params, run.model_version
        ids = candidate_ids(project)  # again: labels may have arrived while it trained
        scores = {
            pk: (score, truncated)
            for pk, score, truncated in SolutionScore.objects.filter(
                model_version=version, solution_id__in=ids
            ).values_list("solution_id", "score", "truncated")
        }
        rows = Solution.objects.filter(pk__in=ids).values_list("pk", "problem_id", "is_correct")
        candidates = []
        for pk, problem_id, is_correct in rows:
            score, truncated = scores.get(pk, (None, False))
            candidates.append(
                selection.Candidate(pk, problem_id, score, is_correct, truncated=truncated)
            )
        picked = selection.plan(
            candidates,
            batch_size=params["batch_size"],
            per_problem_cap=params["per_problem_cap"],
            wrong_share=params["wrong_share"],
            strategy=params["strategy"],
            seed=params["seed"],
            # runs queued before issue 12 lack these two
            allocation=params.get("wrong_allocation", WrongAllocation.BATCH),
            truncated_policy=params.get("truncated_policy", TruncatedPolicy.LAST),
        )
        chosen = picked.picks
        ModelVersion.objects.filter(project=project, is_current=True).exclude(pk=version.pk).update(
            is_current=False
        )
        ModelVersion.objects.filter(pk=version.pk).update(is_current=True)
        _copy_scores(version, project)
        generation = None
        queued = []
        if chosen:
            generation = _generation_publish(run, version, picked, len(candidates))
            queued = _disagreements_queue(project, version, generation)
        now = timezone.now()
        stage_close(run, now)
        run.mark_succeeded(now)
        run.heartbeat_at = now
        run.generation = generation
        requeued = f"; {len(queued)} solution(s) queued again by the disagreement rule"
        requeued = requeued if queued else ""
        message = (
            f"selection: {picked.describe()}\n"
            f"published generation {generation.number} ({len(chosen)} solutions, "
            f"{picked.wrong_served} with a wrong answer) and made model "
            f"version {version.pk} current" + requeued
            if generation
            else f"no unlabeled candidates left: model version {version.pk} is current, the "
            "current generation stays"
        )
        run.log = (run.log + log_line(now, message))[-LOG_LIMIT:]
        run.save()
    return run


def _disagreements_queue(project: Project, version: ModelVersion, generation: Generation):
    """The disagreement queue (docs/model-assisted.md): labeled solutions where people and the
    new model disagree, queued in the new generation for one more labeling, within the
    project's budget (0: off)."""
    if not project.disagreement_budget:
        return []
    labeled = labeled_solution_ids(project)
    scores = dict(
        SolutionScore.objects.filter(model_version=version, solution_id__in=labeled).values_list(
            "solution_id", "step_scores"
        )
    )
    return disagreement_queue_fill(
        generation=generation, model_version_id=version.pk, step_scores=scores
    )


def _copy_scores(version: ModelVersion, project: Project) -> None:
    """Solution.prm_score = the new current version's score, where it scored the solution."""
    latest = SolutionScore.objects.filter(model_version=version, solution=OuterRef("pk"))
    Solution.objects.filter(project=project, prm_scores__model_version=version).update(
        prm_score=Subquery(latest.values("score")[:1])
    )


def _generation_publish(
    run: Run, version: ModelVersion, picked: selection.Selection, candidates: int
) -> Generation:
    chosen = picked.picks
    last = (
        Generation.objects.filter(project=run.project, number__gte=0)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    params = {k: run.params[k] for k in ("batch_size", "per_problem_cap", "wrong_share", "seed")}
    for name, default in (("wrong_allocation", "batch"), ("truncated_policy", "last")):
        params[name] = run.params.get(name, default)
    generation = Generation.objects.create(
        project=run.project,
        number=0 if last is None else last + 1,
        strategy=run.params["strategy"],
        params={
            **params,
            "strategy": run.params["strategy"],
            "model_version": version.pk,
            "run": run.pk,
            "candidates": candidates,
            "selected": len(chosen),
            # asked against served wrong-answer share, shortfall, truncation (issue 12)
            "selection": picked.summary(),
        },
    )
    GenerationItem.objects.bulk_create(
        GenerationItem(generation=generation, solution_id=c.solution_id, rank=rank, score=c.score)
        for rank, c in enumerate(chosen)
    )
    return generation
