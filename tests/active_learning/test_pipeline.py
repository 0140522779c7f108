"""The loop's stages in process (`run_round`), one run at a time, failure and recovery."""

import pytest
from django.db import IntegrityError, transaction

from active_learning import pipeline
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
    run = pipeline.run_round(project)
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
    # per-problem cap 2, 80% wrong: round(1.6) = 2 wrong answers per problem when available
    assert all(item.solution.is_correct is False for item in items)
    assert "published generation 1" in run.log


def test_the_uniform_strategy_skips_scoring_and_records_itself(tiny_backbone, loop_models_dir):
    project, _pool = loop_project(tiny_backbone)
    run = pipeline.run_round(project, strategy="uniform", seed=3)
    assert run.chunks_total == 0
    assert run.generation.strategy == "uniform" and run.generation.params["seed"] == 3
    assert run.generation.items.count() == 8
    assert not SolutionScore.objects.exists()


def test_a_second_run_is_refused_while_one_is_active(tiny_backbone):
    project, _ = loop_project(tiny_backbone)
    first = pipeline.run_create(project=project, trigger="lead")
    with pytest.raises(pipeline.RunRefused, match=f"Run {first.pk} .* one run at a time"):
        pipeline.run_create(project=project, trigger="lead")
    with pytest.raises(pipeline.RunRefused):
        pipeline.run_round(project)
    assert Run.objects.filter(project=project).count() == 1
    # the database itself refuses two active runs, whatever the code path
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.create(project=project, trigger="api", status=RunStatus.RUNNING)
    # another project is not blocked
    assert pipeline.run_create(project=ProjectFactory(), trigger="lead").status == "queued"


def test_a_failing_round_leaves_the_previous_model_and_generation_current(
    tiny_backbone, loop_models_dir, monkeypatch
):
    project, _ = loop_project(tiny_backbone)
    good = pipeline.run_round(project)

    def explode(*args, **kwargs):
        raise RuntimeError("scoring blew up")

    monkeypatch.setattr("active_learning.services.solutions_score", explode)
    with pytest.raises(RuntimeError):
        pipeline.run_round(project)
    failed = Run.objects.get(status=RunStatus.FAILED)
    assert "scoring blew up" in failed.error and "Traceback" in failed.log
    assert failed.stage == RunStage.SCORE
    assert ModelVersion.objects.get(is_current=True) == good.model_version
    assert current_generation(project) == good.generation
    assert not ModelVersion.objects.get(pk=failed.model_version_id).is_current
    monkeypatch.undo()
    retry = pipeline.run_round(project)  # a retry starts cleanly
    assert retry.status == RunStatus.SUCCEEDED and retry.generation.number == 2


def test_an_empty_project_fails_clearly_and_does_not_block_the_next_run(tiny_backbone):
    project = ProjectFactory()
    LoopSettings.objects.create(project=project, backbone=tiny_backbone)
    with pytest.raises(ApplicationError, match="no usable labels"):
        pipeline.run_round(project)
    run = Run.objects.get()
    assert run.status == RunStatus.FAILED and "no usable labels" in run.error
    assert not Generation.objects.filter(project=project).exists()
    assert pipeline.run_create(project=project, trigger="lead").status == RunStatus.QUEUED


def test_bad_parameters_are_named_and_create_nothing(tiny_backbone):
    project, _ = loop_project(tiny_backbone)
    with pytest.raises(ApplicationError) as caught:
        pipeline.run_round(project, batch_size=0, wrong_share=2, strategy="best")
    text = str(caught.value)
    assert "batch_size" in text and "wrong_share" in text and "strategy" in text
    with pytest.raises(ApplicationError, match="Unknown run parameter"):
        pipeline.run_round(project, bach_size=3)
    assert not Run.objects.exists()


def test_a_chunk_that_kills_its_worker_every_time_fails_the_run_instead_of_looping(
    tiny_backbone,
):
    from active_learning import tasks
    from active_learning.models import RunChunk

    project, pool = loop_project(tiny_backbone)
    run = pipeline.run_create(project=project, trigger="lead")
    pipeline.run_begin(run.pk)
    chunk = RunChunk.objects.create(
        run=run, index=0, solution_ids=[pool[0].pk], attempts=pipeline.MAX_CHUNK_ATTEMPTS
    )
    Run.objects.filter(pk=run.pk).update(chunks_total=1)
    with pytest.raises(ApplicationError, match="started 3 times"):
        tasks.run_score_chunk(run.pk, chunk.pk)  # the task body, called in process
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "worker died each time" in run.error
