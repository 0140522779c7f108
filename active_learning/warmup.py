"""The feature-cache warm-up's progress, where the web process reads it.

The warm-up (tasks.prm_features_warm, on the gpu worker) computes the backbone's features of a
head-mode project's candidates; a run queued meanwhile waits behind it on that worker. The
warm-up announces itself here so that the loop page and the run API say what such a run waits
for. Kept in the shared cache (Redis, or the file cache under var/ without Redis), not a table:
it only matters while the warm-up runs, and it expires by itself if the worker dies mid-way
(each write renews it). Light on purpose: the web process imports it, so no torch here."""

from django.conf import settings
from django.core.cache import cache

KEY = "al:features-warm:{project_id}"
QUEUED_TTL = 3 * 3600  # seconds a queued warm-up is announced before a worker takes it
RUNNING_TTL = 15 * 60  # seconds a running warm-up is announced after its last progress


def record(
    project_id: int, backbone: str, state: str, done: int = 0, total: int | None = None
) -> None:
    """Announce a feature-cache warm-up of `project_id` for `backbone`: `state` "queued" (sent
    to the gpu queue), "running" (`done` of `total` solutions computed) or "done" (the record
    is removed). A cache that cannot be reached drops the write (see settings.CACHES)."""
    key = KEY.format(project_id=project_id)
    if state == "done":
        cache.delete(key)
        return
    ttl = QUEUED_TTL if state == "queued" else RUNNING_TTL
    cache.set(key, {"backbone": backbone, "state": state, "done": done, "total": total}, ttl)


def status(project) -> dict | None:
    """The announced warm-up of `project`'s feature cache for the loop's current backbone:
    {"backbone", "state" ("queued" | "running"), "done", "total" (solutions, or None)}, or
    None when none is queued or running (or the cache cannot be reached)."""
    from active_learning.models import LoopSettings

    current = cache.get(KEY.format(project_id=project.pk))
    if not current:
        return None
    backbone = LoopSettings.objects.filter(project=project).values_list("backbone", flat=True)
    if current.get("backbone") != (backbone.first() or settings.PRM_BACKBONE):
        return None
    return current


def waiting_for(run) -> str | None:
    """What an active run that has not started training yet waits for, when it is known:
    "Waiting for the feature-cache warm-up (120 of 232 solutions)" while a warm-up of the
    project's backbone is running, "… (queued, 232 solutions)" before a worker takes it: it
    holds the gpu worker the run's training needs. None otherwise (the stage's own label,
    "Waiting for a worker", says it then)."""
    from active_learning.models import RunStage

    if not run.is_active or run.stage != RunStage.WAITING:
        return None
    warm = status(run.project)
    if warm is None:
        return None
    total = warm.get("total")
    if warm["state"] == "running" and total:
        return f"Waiting for the feature-cache warm-up ({warm['done']:,} of {total:,} solutions)"
    if total:
        return f"Waiting for the feature-cache warm-up (queued, {total:,} solutions)"
    return "Waiting for the feature-cache warm-up (queued)"
