"""What follows a committed submit (labeling/services/submission.py calls `after_submit` on
commit): mark the project's statistics changed, queue one statistics refresh per debounce window
(labeling/enqueue.py's rule), and count down to the loop's next retrain (labeling/hooks.py's
"labels arrived"). Best effort: a submit never fails for the cache or the broker."""

import logging
import time

from django.core.cache import caches

from labeling import hooks
from labeling.enqueue import enqueue_once
from labeling.project_stats import project_stats_refresh, stats_mark_changed

logger = logging.getLogger(__name__)

STATS_REFRESH_DEBOUNCE = 30  # seconds: at most one statistics refresh per project per window


# The retrain countdown's decrement, as django-redis's decr does it (only an existing key).
_DECR_IF_EXISTS = (
    "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECRBY', KEYS[1], 1) "
    "else return false end"
)


def after_submit(project_id: int, *, regular: bool) -> None:
    """Post-commit work of a submit: mark the statistics changed, queue one refresh per
    debounce window and (regular labelings) count down to the next retrain. With a Redis cache
    the three cache operations are one pipeline (one round trip); otherwise, or when the
    pipeline cannot be built, the same calls one by one. Never raises."""
    try:
        results = _after_submit_pipeline(project_id, regular)
    except Exception:  # Redis is down: as the separate calls would, check the trigger for real
        logger.warning("could not reach the cache after a submit in project %s", project_id)
        if regular:
            hooks.labels_arrived.fire(project_id, counted_down=True)
        return
    if results is None:
        _schedule_stats_refresh(project_id)
        if regular:
            _retrain_trigger(project_id)
        return
    if results[1]:  # this submit opened the debounce window
        try:
            project_stats_refresh.apply_async((project_id,), countdown=5, retry=False)
        except Exception:
            logger.warning("could not queue a statistics refresh for project %s", project_id)
    if regular:
        remaining = results[2] if len(results) > 2 else None
        if remaining is None or remaining is False or remaining <= 0:
            # no estimate, or it ran out: the loop checks for real
            hooks.labels_arrived.fire(project_id, counted_down=True)


def _after_submit_pipeline(project_id: int, regular: bool) -> list | None:
    """The cache writes of after_submit in one Redis pipeline, through django-redis's own
    key and value encoding (so cache.get reads them back); None when the cache is not
    django-redis. The keys are those of stats_mark_changed, _schedule_stats_refresh and the
    loop's countdown (labeling/hooks.py, labels_countdown_key), which read them."""
    from labeling.project_stats import HARD_MAX_AGE, _changed_key

    client = getattr(caches["default"], "client", None)
    if not all(hasattr(client, name) for name in ("get_client", "make_key", "encode")):
        return None
    pipe = client.get_client(write=True).pipeline(transaction=False)
    pipe.set(
        client.make_key(_changed_key(project_id)),
        client.encode(time.time()),
        ex=HARD_MAX_AGE * 2,
    )
    pipe.set(
        client.make_key(f"stats-refresh-pending:{project_id}"),
        client.encode(1),
        ex=STATS_REFRESH_DEBOUNCE,
        nx=True,
    )
    countdown = hooks.labels_countdown_key(project_id) if regular else None
    if countdown is not None:
        pipe.eval(_DECR_IF_EXISTS, 1, client.make_key(countdown))
    return pipe.execute()


def _retrain_trigger(project_id: int) -> None:
    """Labels arrived (labeling/hooks.py): the loop's "retrain after every N labelings" trigger
    subscribes; it never raises, and a broker that is down leaves the run queued, not the
    submit failed."""
    hooks.labels_arrived.fire(project_id)


def _schedule_stats_refresh(project_id: int) -> None:
    """Keep the lead dashboard warm. Best effort: a submit never depends on the broker."""
    stats_mark_changed(project_id)
    try:  # the cache is Redis too in production: when Redis is down, both calls fail
        enqueue_once(
            f"stats-refresh-pending:{project_id}",
            STATS_REFRESH_DEBOUNCE,
            project_stats_refresh,
            (project_id,),
            countdown=5,
            retry=False,
        )
    except Exception:  # the broker is down: the dashboard recomputes on demand instead
        logger.warning("could not queue a statistics refresh for project %s", project_id)
