"""Celery tasks of the loop: take ids, call the stages (active_learning/loop/stages/), own
retry and time limits. The task names (`active_learning.tasks.<function>`) are what the broker,
the routes and beat know: the web side sends `run_start` by that name
(active_learning/loop/triggers.py), so a task keeps its name wherever its code lives.

Routing (config/celery.py): training and scoring go to the `gpu` queue, selection and upkeep to
`default`. Every task is acknowledged late, so a task whose worker dies is delivered again;
`run_start` then sees its run already running and fails it cleanly (see loop/runs.run_begin).
"""

import logging

from celery import group, shared_task
from celery.exceptions import SoftTimeLimitExceeded

from active_learning.loop import candidates, params, runs, watchdog
from active_learning.loop.stages import publish, score, train

logger = logging.getLogger(__name__)

TRAIN_SOFT_LIMIT = 6 * 3600  # a full fine-tune on a large pool; CPU head training takes minutes
SCORE_CHUNK_SOFT_LIMIT = 30 * 60
PUBLISH_SOFT_LIMIT = 10 * 60
GRACE = 60  # seconds between the soft limit (cleanup) and the hard kill


def _failing(run_id: int, exc: Exception) -> None:
    """Mark the run failed for an error of its own (a time limit included). Only `Exception`s
    land here: SystemExit / KeyboardInterrupt (a worker stopped by SIGTERM or Ctrl-C) pass
    through, so the run is not failed for the operator's restart; with acks_late the message
    comes back and `run_begin` / the chunk's attempt counter decide what happens next."""
    if isinstance(exc, SoftTimeLimitExceeded):
        error = "the stage ran past its time limit"
    else:
        error = runs.error_message(exc)
    runs.run_fail(run_id, error, runs.error_trace(exc))


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=TRAIN_SOFT_LIMIT,
    time_limit=TRAIN_SOFT_LIMIT + GRACE,
)
def run_start(run_id: int) -> None:
    """Generate solutions when the run asks for it (active_learning/generator/stage.py), train,
    then fan the scoring out over the gpu workers (one task per chunk)."""
    if runs.run_begin(run_id) is None:
        return
    try:
        from active_learning.generator.stage import run_generate  # worker side (torch)

        if run_generate(run_id):  # a generate-only run, or a cold start, is over
            return
        train.run_train(run_id)
        chunks = score.run_plan_chunks(run_id)
        if chunks:
            group(run_score_chunk.si(run_id, chunk.pk) for chunk in chunks).apply_async()
        else:
            run_publish.apply_async((run_id,))
    except Exception as exc:
        _failing(run_id, exc)
        raise


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=SCORE_CHUNK_SOFT_LIMIT,
    time_limit=SCORE_CHUNK_SOFT_LIMIT + GRACE,
)
def run_score_chunk(run_id: int, chunk_id: int) -> None:
    try:
        if score.run_score_chunk(run_id, chunk_id):
            run_publish.apply_async((run_id,))
    except Exception as exc:
        _failing(run_id, exc)
        raise


@shared_task(
    acks_late=True,
    soft_time_limit=PUBLISH_SOFT_LIMIT,
    time_limit=PUBLISH_SOFT_LIMIT + GRACE,
)
def run_publish(run_id: int) -> None:
    try:
        publish.run_publish(run_id)
    except Exception as exc:
        _failing(run_id, exc)
        raise


@shared_task(
    acks_late=True,
    soft_time_limit=SCORE_CHUNK_SOFT_LIMIT,
    time_limit=SCORE_CHUNK_SOFT_LIMIT + GRACE,
)
def prm_features_warm(project_id: int) -> dict:
    """Compute the backbone features of a head-mode project's candidates ahead of its first run
    (sent to the `gpu` queue explicitly: `.apply_async((id,), queue="gpu")`), so that the first
    retrain scores its pool from the feature cache."""
    from active_learning.loop.warm import features_warm
    from labeling.models import Project

    project = Project.objects.filter(pk=project_id).first()
    return features_warm(project) if project is not None else {"solutions": 0}


def features_warm_queue(project) -> None:
    """Send `project`'s feature-cache warm-up to the gpu queue and announce it as queued (the
    loop page then says what a run queued behind it waits for). Raises what the broker raises
    when it cannot be reached, after removing the announcement."""
    from django.conf import settings

    from active_learning import warmup

    backbone = params.loop_settings_get(project).backbone or settings.PRM_BACKBONE
    warmup.record(project.pk, backbone, "queued", 0, len(candidates.candidate_ids(project)))
    try:
        prm_features_warm.apply_async((project.pk,), queue="gpu")
    except Exception:
        warmup.record(project.pk, backbone, "done")
        raise


NEXT_STEPS_SOFT_LIMIT = 10 * 60  # loading a model on a cold worker, then k short samples


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=NEXT_STEPS_SOFT_LIMIT,
    time_limit=NEXT_STEPS_SOFT_LIMIT + GRACE,
)
def next_steps_answer(alternatives_id: int) -> str:
    """Phase 1 (queue `gpu`): sample the proposed next steps a pending request wants and store
    them, or mark it failed (active_learning/generator/phase1.py). Sent by name from the web
    (active_learning/phase1.py); a second delivery leaves a row that is no longer pending alone."""
    from active_learning.generator.phase1 import next_steps_answer as answer  # worker side

    return answer(alternatives_id)


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def runs_watchdog() -> dict:
    """Beat, every minute: fail dead runs, send runs the broker missed, start scheduled runs."""
    return watchdog.runs_watchdog()
