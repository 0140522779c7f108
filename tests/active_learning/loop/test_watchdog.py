"""The loop's periodic upkeep (`active_learning/loop/watchdog.py`): runs the broker missed, the
schedule."""

from datetime import timedelta

import pytest
from django.utils import timezone

from active_learning.loop import triggers, watchdog
from active_learning.models import LoopSettings, Run, RunStatus
from tests.active_learning.loop.conftest import queue_project
from tests.factories import LabelingFactory, SolutionFactory

pytestmark = pytest.mark.django_db


def test_the_watchdog_sends_runs_the_broker_missed():
    project, _ = queue_project()
    run = triggers.run_create(project=project, trigger="lead")
    assert watchdog.runs_dispatch_pending() == []  # too fresh: its own dispatch may be coming
    Run.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    assert watchdog.runs_dispatch_pending() == [run.pk]
    run.refresh_from_db()
    assert run.dispatched_at is not None and "sent to the workers" in run.log
    assert watchdog.runs_dispatch_pending() == []  # never sent twice


def test_the_schedule_starts_a_run_when_due_and_there_are_new_labels():
    project, _ = queue_project()
    LoopSettings.objects.filter(project=project).update(schedule_enabled=True, schedule_minutes=60)
    assert watchdog.runs_schedule_due() == []  # no labels yet
    LabelingFactory(solution=SolutionFactory(problem__project=project))
    started = watchdog.runs_schedule_due()
    assert len(started) == 1 and Run.objects.get().trigger == "schedule"
    Run.objects.update(status=RunStatus.SUCCEEDED)
    LabelingFactory(solution=SolutionFactory(problem__project=project))
    assert watchdog.runs_schedule_due() == []  # the interval has not passed
    Run.objects.update(created_at=timezone.now() - timedelta(minutes=61))
    assert len(watchdog.runs_schedule_due()) == 1
