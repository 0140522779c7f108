"""Celery tasks of the loop: take ids, call the pipeline stages, own retry and time limits.

Routing (config/celery.py): training and scoring go to the `gpu` queue, selection and upkeep to
`default`. Every task is acknowledged late, so a task whose worker dies is delivered again;
`run_start` then sees its run already running and fails it cleanly (see pipeline.run_begin).
"""

import logging

from celery import group, shared_task
from celery.exceptions import SoftTimeLimitExceeded

from active_learning import pipeline

logger = logging.getLogger(__name__)

TRAIN_SOFT_LIMIT = 6 * 3600  # a full fine-tune on a large pool; CPU head training takes minutes
SCORE_CHUNK_SOFT_LIMIT = 30 * 60
PUBLISH_SOFT_LIMIT = 10 * 60
GRACE = 60  # seconds between the soft limit (cleanup) and the hard kill


def _failing(run_id: int, exc: BaseException) -> None:
    if isinstance(exc, SoftTimeLimitExceeded):
        error = "the stage ran past its time limit"
    else:
        error = pipeline._error(exc)
    pipeline.run_fail(run_id, error, pipeline._trace(exc))


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=TRAIN_SOFT_LIMIT,
    time_limit=TRAIN_SOFT_LIMIT + GRACE,
)
def run_start(run_id: int) -> None:
    """Train, then fan the scoring out over the gpu workers (one task per chunk)."""
    if pipeline.run_begin(run_id) is None:
        return
    try:
        pipeline.run_train(run_id)
        chunks = pipeline.run_plan_chunks(run_id)
        if chunks:
            group(run_score_chunk.si(run_id, chunk.pk) for chunk in chunks).apply_async()
        else:
            run_publish.apply_async((run_id,))
    except BaseException as exc:
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
        if pipeline.run_score_chunk(run_id, chunk_id):
            run_publish.apply_async((run_id,))
    except BaseException as exc:
        _failing(run_id, exc)
        raise


@shared_task(
    acks_late=True,
    soft_time_limit=PUBLISH_SOFT_LIMIT,
    time_limit=PUBLISH_SOFT_LIMIT + GRACE,
)
def run_publish(run_id: int) -> None:
    try:
        pipeline.run_publish(run_id)
    except BaseException as exc:
        _failing(run_id, exc)
        raise


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def runs_watchdog() -> dict:
    """Beat, every minute: fail dead runs, send runs the broker missed, start scheduled runs."""
    return pipeline.runs_watchdog()
