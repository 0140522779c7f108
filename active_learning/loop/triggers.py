"""The web side of the loop: what starts a run (a lead's button or the API, a retry, every N
labelings) and cancels a queued one. It hands a run to the workers by the task's name, so the
web process never imports the worker code (the stages, the training code, torch).

One queued or running run per project is a partial unique index (`one_active_run_per_project`);
a second trigger is refused with a message that names the active run. Runs that died silently
are failed before every trigger, so a dead run never blocks the project.
"""

import contextlib
import logging

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from active_learning.loop.candidates import submitted_labelings
from active_learning.loop.params import PARAM_FIELDS, run_params
from active_learning.loop.runs import log_line, run_log, runs_fail_stale
from active_learning.models import (
    ACTIVE_RUN_STATUSES,
    LoopSettings,
    Run,
    RunStatus,
    RunTrigger,
)
from config.celery import app
from labeling.errors import Conflict
from labeling.models import Project

logger = logging.getLogger(__name__)

# The first task of a run (active_learning/tasks.py), sent by name: the web side never imports
# the tasks module, which imports the stages and through them the training code.
RUN_START_TASK = "active_learning.tasks.run_start"


class RunRefused(Conflict):
    """A trigger that cannot start a run now (another run of the project is active)."""


def active_run(project: Project) -> Run | None:
    return Run.objects.filter(project=project, status__in=ACTIVE_RUN_STATUSES).first()


def run_create(
    *,
    project: Project,
    trigger: str,
    user=None,
    params: dict | None = None,
    retry_of: Run | None = None,
    in_process: bool = False,
) -> Run:
    """A queued run, or RunRefused when the project has an active one. Runs that died silently
    are failed first, so a dead run never blocks the project."""
    runs_fail_stale(project=project)
    resolved = run_params(project, params)
    now = timezone.now()
    try:
        with transaction.atomic():
            run = Run.objects.create(
                project=project,
                trigger=trigger,
                requested_by=user if getattr(user, "is_authenticated", False) else None,
                retry_of=retry_of,
                params=resolved,
                labels_at_trigger=submitted_labelings(project),
                # In-process runs are never handed to a broker (the watchdog must not send them).
                dispatched_at=now if in_process else None,
                log=log_line(now, f"queued ({RunTrigger(trigger).label.lower()} trigger)"),
            )
    except IntegrityError:
        active = active_run(project)
        if active is None:  # it finished in between: try once more
            return run_create(
                project=project,
                trigger=trigger,
                user=user,
                params=params,
                retry_of=retry_of,
                in_process=in_process,
            )
        raise RunRefused(
            f"Run {active.pk} of {project.name!r} is {active.status} "
            f"({active.get_stage_display().lower()}); one run at a time per project, so no "
            "second run was started. Try again when it has finished."
        ) from None
    return run


def run_trigger(
    *,
    project: Project,
    trigger: str,
    user=None,
    params: dict | None = None,
    retry_of: Run | None = None,
) -> Run:
    """Create a run and hand it to the workers once the transaction commits. When the broker is
    down the run stays queued (and says so in its log); the watchdog sends it when the broker is
    back. It is never lost and never run inline in the web process."""
    run = run_create(project=project, trigger=trigger, user=user, params=params, retry_of=retry_of)
    transaction.on_commit(lambda: run_dispatch(run.pk))
    return run


def run_retry(*, run: Run, user=None) -> Run:
    """A failed run again, as a new run with the same parameters."""
    if run.status != RunStatus.FAILED:
        raise Conflict(f"Run {run.pk} is {run.status}; only a failed run can be retried.")
    params = {k: v for k, v in run.params.items() if k in PARAM_FIELDS}
    params["train"] = run.params.get("train", {})
    params["generate"] = run.params.get("generate")
    return run_trigger(
        project=run.project, trigger=RunTrigger.RETRY, user=user, params=params, retry_of=run
    )


def run_dispatch(run_id: int) -> bool:
    """Send a queued run's first task. The claim on `dispatched_at` makes sure at most one
    message per run is in flight; a failed send releases it again."""
    now = timezone.now()
    claimed = Run.objects.filter(
        pk=run_id, status=RunStatus.QUEUED, dispatched_at__isnull=True
    ).update(dispatched_at=now)
    if not claimed:
        return False
    try:
        app.send_task(RUN_START_TASK, (run_id,), retry=False)
    except Exception as exc:  # the broker is down: keep the run queued, send it later
        Run.objects.filter(pk=run_id).update(dispatched_at=None)
        run_log(
            run_id,
            f"could not reach the broker ({type(exc).__name__}); background jobs are "
            "paused, and the run will be sent when the broker is back",
        )
        logger.warning("run %s: broker unavailable, left queued: %s", run_id, exc)
        return False
    run_log(run_id, "sent to the workers")
    return True


def run_cancel(*, run: Run, user=None) -> Run:
    """Cancel a queued run (one a worker has not started)."""
    who = getattr(user, "username", None) or "a lead"
    updated = Run.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.FAILED,
        error=f"cancelled by {who} before it started",
        finished_at=timezone.now(),
    )
    if not updated:
        raise Conflict(
            f"Run {run.pk} is {Run.objects.get(pk=run.pk).status}; only a queued "
            "run can be cancelled."
        )
    run_log(run.pk, f"cancelled by {who}")
    run.refresh_from_db()
    return run


# Labels still wanted before the label trigger needs a real check, per project (an estimate
# in the cache, counted down by submits). Counting the project's labelings takes 100+ ms at
# 100k labelings (the QC/screening filter defeats the index), too much for every submit; the
# estimate never runs ahead of the truth for submits, and the watchdog's full check every
# minute covers labels that arrive otherwise (imports). It expires so setting changes apply.
LABELS_REMAINING_TTL = 300


def labels_remaining_key(project_id: int) -> str:
    return f"loop-labels-remaining:{project_id}"


def labels_maybe_trigger(project_id: int, *, after_submit: bool = False) -> Run | None:
    """Start a run when `retrain_every` new labelings have come in since the last run. After a
    submit (`after_submit`), the cached countdown answers "not yet" without a query. Never
    raises (a submit must not depend on the loop, the cache or the broker)."""
    if after_submit:
        try:
            remaining = cache.decr(labels_remaining_key(project_id))
        except Exception:  # no estimate (or the cache is down): check for real
            remaining = None
        if remaining is not None and remaining > 0:
            return None
    try:
        return _labels_check(project_id)
    except RunRefused:
        return None
    except Exception:
        logger.exception("project %s: could not check the retrain trigger", project_id)
        return None


def _labels_remaining_set(project_id: int, remaining: int) -> None:
    with contextlib.suppress(Exception):
        cache.set(labels_remaining_key(project_id), remaining, LABELS_REMAINING_TTL)


def _labels_check(project_id: int) -> Run | None:
    loop = LoopSettings.objects.filter(project_id=project_id).first()
    every = loop.retrain_every if loop else LoopSettings._meta.get_field("retrain_every").default
    if not every:
        _labels_remaining_set(project_id, 10**9)  # off: until the estimate expires
        return None
    project = Project.objects.get(pk=project_id)
    if Run.objects.filter(project=project, status__in=ACTIVE_RUN_STATUSES).exists():
        # the next run counts from when it was triggered: check again after a few labels
        _labels_remaining_set(project_id, min(every, 10))
        return None
    last = Run.objects.filter(project=project).order_by("-id").first()
    since = last.labels_at_trigger if last else 0
    new_labels = submitted_labelings(project) - since
    if new_labels < every:
        _labels_remaining_set(project_id, every - new_labels)
        return None
    run = run_trigger(project=project, trigger=RunTrigger.LABELS)
    _labels_remaining_set(project_id, every)
    return run
