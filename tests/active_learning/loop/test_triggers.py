"""What starts a run (labels, a lead, retry) and cancels one
(`active_learning/loop/triggers.py`), and the broker being down: never a lost trigger, never a
failed submit."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from active_learning.loop import in_process, triggers, watchdog
from active_learning.models import Run, RunStatus
from labeling.errors import Conflict
from labeling.models import LabelingStatus
from tests.active_learning.conftest import loop_project
from tests.active_learning.loop.conftest import queue_project, submit_one
from tests.factories import LabelingFactory, ProjectFactory

pytestmark = pytest.mark.django_db


def test_the_nth_submitted_labeling_starts_a_run(django_capture_on_commit_callbacks):
    project, user = queue_project(retrain_every=3)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            submit_one(project, user)
    assert not Run.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        submit_one(project, user)
    run = Run.objects.get()
    assert run.trigger == "labels" and run.labels_at_trigger == 3
    assert run.status == RunStatus.QUEUED and run.dispatched_at is not None  # sent
    # more labels while it is active start nothing; after it finished, N more start the next
    with django_capture_on_commit_callbacks(execute=True):
        submit_one(project, user)
    assert Run.objects.count() == 1
    Run.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED)
    with django_capture_on_commit_callbacks(execute=True):
        submit_one(project, user)
    assert Run.objects.count() == 1  # 2 new since the last run
    with django_capture_on_commit_callbacks(execute=True):
        submit_one(project, user)
    assert Run.objects.count() == 2 and Run.objects.first().labels_at_trigger == 6


def test_a_second_run_is_refused_while_one_is_active(tiny_backbone):
    project, _ = loop_project(tiny_backbone)
    first = triggers.run_create(project=project, trigger="lead")
    with pytest.raises(triggers.RunRefused, match=f"Run {first.pk} .* one run at a time"):
        triggers.run_create(project=project, trigger="lead")
    with pytest.raises(triggers.RunRefused):
        in_process.run_round(project)
    assert Run.objects.filter(project=project).count() == 1
    # the database itself refuses two active runs, whatever the code path
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.create(project=project, trigger="api", status=RunStatus.RUNNING)
    # another project is not blocked
    assert triggers.run_create(project=ProjectFactory(), trigger="lead").status == "queued"


def test_submits_below_the_threshold_cost_no_query_and_imports_are_caught_by_the_watchdog(
    django_capture_on_commit_callbacks, django_assert_num_queries
):
    project, user = queue_project(solutions=8, retrain_every=4)
    with django_capture_on_commit_callbacks(execute=True):
        submit_one(project, user)  # no estimate yet: a real check (1 of 4)
    with django_assert_num_queries(0):  # 3 still wanted: the cached countdown answers
        assert triggers.labels_maybe_trigger(project.pk, after_submit=True) is None
    # labels that arrive without a submit (an import) are not counted down ...
    LabelingFactory.create_batch(
        3, project=project, status=LabelingStatus.SUBMITTED, submitted_at=timezone.now()
    )
    with django_assert_num_queries(0):
        assert triggers.labels_maybe_trigger(project.pk, after_submit=True) is None
    assert not Run.objects.exists()
    # ... the watchdog's full check sees them
    watchdog.runs_watchdog()
    assert Run.objects.get().labels_at_trigger >= 4


def test_a_zero_setting_turns_the_label_trigger_off(django_capture_on_commit_callbacks):
    project, user = queue_project(retrain_every=0)
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            submit_one(project, user)
    assert not Run.objects.exists()


def test_with_the_broker_down_submits_succeed_and_the_run_waits_queued(
    django_capture_on_commit_callbacks, broker_down
):
    project, user = queue_project(retrain_every=2)
    with django_capture_on_commit_callbacks(execute=True):
        submit_one(project, user)
    with django_capture_on_commit_callbacks(execute=True):
        labeling = submit_one(project, user)
    labeling.refresh_from_db()
    assert labeling.status == LabelingStatus.SUBMITTED
    run = Run.objects.get()
    assert run.status == RunStatus.QUEUED and run.dispatched_at is None
    assert "could not reach the broker" in run.log
    # still down: the watchdog tries again and keeps it queued
    Run.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert watchdog.runs_dispatch_pending() == []


def test_a_run_queued_while_the_broker_was_down_is_sent_when_it_is_back(broker_down):
    project, _ = queue_project()
    run = triggers.run_create(project=project, trigger="lead")
    assert triggers.run_dispatch(run.pk) is False
    run.refresh_from_db()
    assert run.dispatched_at is None


def test_cancel_and_retry():
    project, _ = queue_project()
    run = triggers.run_create(project=project, trigger="lead", params={"seed": 7})
    triggers.run_cancel(run=run)
    assert run.status == RunStatus.FAILED and "cancelled" in run.error
    with pytest.raises(Conflict):
        triggers.run_cancel(run=run)
    retry = triggers.run_retry(run=run)
    assert retry.retry_of == run and retry.params["seed"] == 7 and retry.trigger == "retry"
    with pytest.raises(Conflict, match="only a failed run"):
        triggers.run_retry(run=retry)
