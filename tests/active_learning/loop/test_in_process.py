"""The loop's stages in process (`active_learning/loop/in_process.py` `run_round`), one run at a
time, failure and recovery."""

import pytest

from active_learning.loop import in_process, triggers
from active_learning.models import (
    LoopSettings,
    ModelStatus,
    ModelVersion,
    Run,
    RunStage,
    RunStatus,
    SolutionScore,
)
from labeling.errors import ApplicationError
from labeling.models import Generation
from labeling.services.assignments import current_generation
from tests.active_learning.conftest import loop_project
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def test_a_round_trains_scores_selects_and_publishes_the_next_generation(
    tiny_backbone, loop_models_dir
):
    project, pool = loop_project(tiny_backbone)
    run = in_process.run_round(project)
    assert run.status == RunStatus.SUCCEEDED and run.stage == RunStage.DONE
    assert run.percent == 100
    assert set(run.stage_seconds) == {"train", "score", "select"}
    version = run.model_version
    assert version.status == ModelStatus.READY and version.is_current
    generation = run.generation
    assert generation.number == 1 and current_generation(project) == generation
    assert generation.strategy == "convincing_wrong"
    assert generation.params["model_version"] == version.pk
    assert generation.params["run"] == run.pk and generation.params["seed"] == 0
    items = list(generation.items.order_by("rank").select_related("solution"))
    assert len(items) == 8  # batch size
    # every candidate scored by the new version, chunked by 7, and the score kept on the item
    assert run.candidates == len(pool) and run.chunks_total == 5
    assert SolutionScore.objects.filter(model_version=version).count() == len(pool)
    for item in items:
        assert (
            item.score
            == SolutionScore.objects.get(model_version=version, solution=item.solution).score
        )
        assert item.solution.prm_score == item.score
    # 80% wrong for the batch as a whole: round(0.8 * 8) = 6 wrong answers, the
    # highest-scoring ones (the per-problem rule before issue 12 served 8 of 8 here), cap 2
    assert sum(item.solution.is_correct is False for item in items) == 6
    wrong_scores = sorted(
        (
            s.score
            for s in SolutionScore.objects.filter(
                model_version=version, solution__in=[p for p in pool if p.is_correct is False]
            )
        ),
        reverse=True,
    )
    served = sorted((i.score for i in items if i.solution.is_correct is False), reverse=True)
    assert served[0] == wrong_scores[0]  # the most convincing wrong answer is served
    per_problem = {}
    for item in items:
        per_problem[item.solution.problem_id] = per_problem.get(item.solution.problem_id, 0) + 1
    assert max(per_problem.values()) <= 2
    summary = generation.params["selection"]
    assert summary["wrong_share_asked"] == 0.8 and summary["wrong_share_served"] == 0.75
    assert summary["wrong_shortfall"] == 0
    assert generation.params["wrong_allocation"] == "batch"
    assert generation.params["truncated_policy"] == "last"
    assert "published generation 1" in run.log
    assert "6 wrong answers = 75% served against 80% asked" in run.log


def test_the_uniform_strategy_skips_scoring_and_records_itself(tiny_backbone, loop_models_dir):
    project, _pool = loop_project(tiny_backbone)
    run = in_process.run_round(project, strategy="uniform", seed=3)
    assert run.chunks_total == 0
    assert run.generation.strategy == "uniform" and run.generation.params["seed"] == 3
    assert run.generation.items.count() == 8
    assert not SolutionScore.objects.exists()


def test_a_failing_round_leaves_the_previous_model_and_generation_current(
    tiny_backbone, loop_models_dir, monkeypatch
):
    project, _ = loop_project(tiny_backbone)
    good = in_process.run_round(project)

    def explode(*args, **kwargs):
        raise RuntimeError("scoring blew up")

    monkeypatch.setattr("active_learning.services.scoring.solutions_score", explode)
    with pytest.raises(RuntimeError):
        in_process.run_round(project)
    failed = Run.objects.get(status=RunStatus.FAILED)
    assert "scoring blew up" in failed.error and "Traceback" in failed.log
    assert failed.stage == RunStage.SCORE
    assert ModelVersion.objects.get(is_current=True) == good.model_version
    assert current_generation(project) == good.generation
    assert not ModelVersion.objects.get(pk=failed.model_version_id).is_current
    monkeypatch.undo()
    retry = in_process.run_round(project)  # a retry starts cleanly
    assert retry.status == RunStatus.SUCCEEDED and retry.generation.number == 2


def test_an_empty_project_fails_clearly_and_does_not_block_the_next_run(tiny_backbone):
    project = ProjectFactory()
    LoopSettings.objects.create(project=project, backbone=tiny_backbone)
    with pytest.raises(ApplicationError, match="no usable labels"):
        in_process.run_round(project)
    run = Run.objects.get()
    assert run.status == RunStatus.FAILED and "no usable labels" in run.error
    assert not Generation.objects.filter(project=project).exists()
    assert triggers.run_create(project=project, trigger="lead").status == RunStatus.QUEUED
