"""Project statistics for leads: agreement, quality control, throughput (reads only).

Which labelings count: submitted ones of the project, optionally of one generation and
submitted within [since, until). Agreement uses those that ended `found_error` or `solution`;
throughput and behaviour use all of them. They are computed in labeling/stats_compute.py
(`compute_statistics`); this module serves them. Definitions of the agreement statistics are in
`labeling.agreement`; the others where they are computed and in docs/statistics.md.

Results are cached per (project, filters) and served stale-while-revalidate: a request never
waits for a computation when a cached result exists, unless the data changed more than
REFRESH_GRACE seconds ago and the background refresh has not arrived yet (then it computes, so
no answer is ever more than a minute behind a submit). Submits, gold changes and imports mark
the project changed (`stats_mark_changed`) and queue a refresh on the worker; with no change a
result is served for MAX_AGE seconds. See docs/statistics.md and docs/benchmarks.md.
"""

import logging
import time

from celery import shared_task
from django.core.cache import cache

from labeling.enqueue import enqueue_once
from labeling.models import Project
from labeling.stats_compute import StatsFilter, compute_statistics

logger = logging.getLogger(__name__)

STALE_AFTER = 60  # seconds: the issue allows stats to lag a submit by at most a minute
# A changed project's cached result is still served (while the worker recomputes) for this long
# after the change; past it the request computes itself. Leaves STALE_AFTER - REFRESH_GRACE for
# that computation (about 2 s at a million ratings; docs/benchmarks.md).
REFRESH_GRACE = 30
MAX_AGE = 600  # seconds: with no change marked, recompute in the background after this long
HARD_MAX_AGE = 1800  # and in the request after this long (a change the marker missed)


def _changed_key(project_id: int) -> str:
    return f"project-stats-changed:{project_id}"


def stats_mark_changed(project_id: int) -> None:
    """Note that a project's labels changed now: cached statistics older than this are stale.
    Best effort (never raises): the cache is Redis in production and may be down."""
    try:
        cache.set(_changed_key(project_id), time.time(), timeout=HARD_MAX_AGE * 2)
    except Exception:
        logger.warning("could not mark the statistics of project %s changed", project_id)


# The task's name is the one it had in labeling/tasks.py, so messages already queued (and the
# routes) keep finding it; labeling/tasks.py imports it so the worker registers it.
@shared_task(name="labeling.tasks.project_stats_refresh", soft_time_limit=300, time_limit=330)
def project_stats_refresh(project_id: int, flt: dict | None = None) -> None:
    """Recompute a project's statistics (default filters, or `flt` as StatsFilter.as_params)
    so the dashboard answers from a warm cache."""
    project = Project.objects.get(pk=project_id)
    project_statistics(project, StatsFilter.from_params(flt or {}), fresh=True)


def _refresh_in_background(project_id: int, flt: StatsFilter) -> bool:
    """Queue one recomputation on the worker (at most one per project and filter per
    REFRESH_GRACE seconds). False when it could not be queued (broker or cache down)."""
    try:
        enqueue_once(
            f"project-stats-refreshing:{project_id}:{flt.key()}",
            REFRESH_GRACE,
            project_stats_refresh,
            (project_id,),
            {"flt": flt.as_params()},
            retry=False,
        )
        return True
    except Exception:
        logger.warning("could not queue a statistics refresh for project %s", project_id)
        return False


def project_statistics(project: Project, flt: StatsFilter | None = None, *, fresh=False) -> dict:
    """The statistics: the cached result while it is current (or while the worker refreshes
    it, within the staleness bound), else computed now."""
    flt = flt or StatsFilter()
    key = f"project-stats:{project.pk}:{flt.key()}"
    cached = None if fresh else cache.get(key)
    if cached is not None:
        now = time.time()
        changed = cache.get(_changed_key(project.pk))
        age = now - cached["computed_at"]
        if changed is not None and changed >= cached["computed_at"]:
            # stale since `changed`: serve it while the refresh is on its way, not longer
            if now - changed < REFRESH_GRACE and _refresh_in_background(project.pk, flt):
                return {**cached, "stale": True}
        elif age < MAX_AGE or (age < HARD_MAX_AGE and _refresh_in_background(project.pk, flt)):
            return cached
    stats = compute_statistics(project, flt)
    cache.set(key, stats, timeout=HARD_MAX_AGE)
    if cache.get(key) is None:
        # The cache kept nothing: Redis is down (reads miss, writes are dropped; see CACHES in
        # config/settings/base.py). These numbers are current, but nothing is cached or
        # refreshed in the background until it is back: every request computes them again.
        stats = {**stats, "cache_unavailable": True}
    return stats
