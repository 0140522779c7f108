"""The scoring stage (`active_learning/loop/stages/score.py`): chunks, their attempts, the
feature cache."""

import pytest

from active_learning.loop import in_process, runs, triggers
from active_learning.loop.stages import score
from active_learning.models import Run, RunStatus, SolutionScore
from labeling.errors import ApplicationError
from tests.active_learning.conftest import loop_project

pytestmark = pytest.mark.django_db


def test_a_chunk_that_kills_its_worker_every_time_fails_the_run_instead_of_looping(
    tiny_backbone,
):
    from active_learning import tasks
    from active_learning.models import RunChunk

    project, pool = loop_project(tiny_backbone)
    run = triggers.run_create(project=project, trigger="lead")
    runs.run_begin(run.pk)
    chunk = RunChunk.objects.create(
        run=run, index=0, solution_ids=[pool[0].pk], attempts=score.MAX_CHUNK_ATTEMPTS
    )
    Run.objects.filter(pk=run.pk).update(chunks_total=1)
    with pytest.raises(ApplicationError, match="started 3 times"):
        tasks.run_score_chunk(run.pk, chunk.pk)  # the task body, called in process
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "worker died each time" in run.error


def test_a_new_head_model_rescores_the_pool_from_cached_backbone_features(
    tiny_backbone, loop_models_dir
):
    """Head mode never changes the backbone, so the second run scores every candidate from the
    feature cache (only the new head runs): the slow part of a demo turn was re-running the
    backbone over the whole pool every time. Both runs record their scoring throughput."""
    project, pool = loop_project(tiny_backbone)
    first = in_process.run_round(project)
    scoring = first.throughput["scoring"]
    assert scoring["solutions"] == len(pool) and scoring["tokens"] > 0
    assert first.throughput["training"]["tokens"] > 0
    second = in_process.run_round(project)
    again = second.throughput["scoring"]
    assert again["solutions"] == second.candidates
    assert again["from_cache"] == second.candidates  # no backbone pass at all
    # the same scores a fresh, uncached pass gives
    version = second.model_version
    cached = dict(
        SolutionScore.objects.filter(model_version=version).values_list("solution_id", "score")
    )
    from active_learning.services import scoring

    scoring._loaded.clear()
    (loop_models_dir / "features").rename(loop_models_dir / "features-off")
    scoring.solutions_score(version=version, solution_ids=list(cached))
    fresh = dict(
        SolutionScore.objects.filter(model_version=version).values_list("solution_id", "score")
    )
    assert fresh.keys() == cached.keys()
    assert all(abs(fresh[k] - cached[k]) < 1e-5 for k in cached)


@pytest.mark.parametrize("hints", [True, False])
def test_with_hints_on_the_gold_solutions_are_scored_too(hints):
    """Quality-control tasks are gold solutions, which are never candidates: unless the
    score stage scores them, no QC task ever has a hint recorded, and the hinted/unhinted
    comparison of agreement with gold (issue 19) stays empty. Catches gold left unscored
    with hints on (and scored for nothing with hints off)."""
    from labeling.services.quality import gold_from_first_error
    from tests.active_learning.loop.conftest import queue_project
    from tests.factories import SolutionFactory, UserFactory

    project, _ = queue_project(solutions=3)
    project.hints_enabled = hints
    project.save()
    gold = SolutionFactory(problem__project=project)
    gold_from_first_error(solution=gold, first_error=-1, labeler=UserFactory())
    run = triggers.run_create(
        project=project, trigger="lead", params={"strategy": "convincing_wrong"}
    )
    runs.run_begin(run.pk)
    chunks = score.run_plan_chunks(run.pk)
    scored = {sid for chunk in chunks for sid in chunk.solution_ids}
    assert (gold.pk in scored) is hints
    assert len(scored - {gold.pk}) == 3
