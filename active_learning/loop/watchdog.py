"""The loop's periodic upkeep (Celery beat, every minute, `active_learning.tasks.runs_watchdog`):
fail dead runs, send runs the broker missed, start scheduled runs, catch label triggers a
submit could not start, queue grading that imports left pending, and send again phase-1
requests for next steps left pending (active_learning/phase1.py)."""

import contextlib
from datetime import timedelta

from django.utils import timezone

from active_learning.loop.candidates import submitted_labelings
from active_learning.loop.runs import runs_fail_stale
from active_learning.loop.triggers import (
    RunRefused,
    labels_maybe_trigger,
    run_dispatch,
    run_trigger,
)
from active_learning.models import LoopSettings, Run, RunStatus, RunTrigger

# A queued run whose dispatch failed (broker down) is sent again by the watchdog after this.
REDISPATCH_AFTER = timedelta(seconds=30)


def runs_dispatch_pending() -> list[int]:
    """Send queued runs whose dispatch failed (the broker was down)."""
    cutoff = timezone.now() - REDISPATCH_AFTER
    pending = Run.objects.filter(
        status=RunStatus.QUEUED, dispatched_at__isnull=True, created_at__lt=cutoff
    ).values_list("pk", flat=True)
    return [pk for pk in pending if run_dispatch(pk)]


def runs_schedule_due() -> list[int]:
    """Start scheduled runs: projects with the schedule on, no active run, the interval passed
    since their last run, and new labels since then."""
    started = []
    now = timezone.now()
    for loop in LoopSettings.objects.filter(schedule_enabled=True).select_related("project"):
        project = loop.project
        last = Run.objects.filter(project=project).order_by("-id").first()
        if last is not None and (
            last.is_active or last.created_at > now - timedelta(minutes=loop.schedule_minutes)
        ):
            continue
        if submitted_labelings(project) <= (last.labels_at_trigger if last else 0):
            continue  # nothing new to learn from
        with contextlib.suppress(RunRefused):  # a trigger got there first
            started.append(run_trigger(project=project, trigger=RunTrigger.SCHEDULE).pk)
    return started


def runs_watchdog() -> dict:
    """The periodic upkeep (beat, every minute): fail dead runs, send runs the broker missed,
    start scheduled runs, and catch label triggers a submit could not start."""
    stale = runs_fail_stale()
    sent = runs_dispatch_pending()
    scheduled = runs_schedule_due()
    for project_id in LoopSettings.objects.filter(retrain_every__gt=0).values_list(
        "project_id", flat=True
    ):
        labels_maybe_trigger(project_id)
    return {
        "failed_stale": stale,
        "dispatched": sent,
        "scheduled": scheduled,
        "grading": grading_catch_up(),
        "next_steps": next_steps_catch_up(),
    }


def next_steps_catch_up() -> list[int]:
    """Send again the phase-1 requests for next steps left pending (active_learning/phase1.py)."""
    from active_learning.phase1 import next_steps_catch_up as catch_up

    return catch_up()


def grading_catch_up() -> list[int]:
    """Queue grading for projects with pending solutions (new imports, whichever way they came
    in): active_learning/grading.py."""
    from active_learning.grading import grading_catch_up as catch_up

    return catch_up()
