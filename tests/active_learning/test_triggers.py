"""What starts a run (labels, schedule, lead, retry), what keeps runs honest (watchdog,
redelivery), and the broker being down: never a lost trigger, never a failed submit."""

from datetime import timedelta

import pytest
from django.utils import timezone

from active_learning import pipeline
from active_learning.models import LoopSettings, ModelStatus, ModelVersion, Run, RunStatus
from labeling.errors import Conflict
from labeling.models import Generation, GenerationItem, LabelingStatus, Membership
from labeling.services.assignments import assignment_next
from labeling.services.submission import draft_save, labeling_submit
from tests.factories import LabelingFactory, ProjectFactory, SolutionFactory, UserFactory

pytestmark = pytest.mark.django_db


def queue_project(solutions=6, retrain_every=3):
    project = ProjectFactory(qc_rate=0.0)
    generation = Generation.objects.create(project=project, number=0)
    for rank in range(solutions):
        solution = SolutionFactory(problem__project=project)
        GenerationItem.objects.create(generation=generation, solution=solution, rank=rank)
    LoopSettings.objects.create(project=project, retrain_every=retrain_every)
    user = UserFactory()
    Membership.objects.create(project=project, user=user)
    return project, user


def submit_one(project, user):
    task = assignment_next(user=user, project=project).labeling
    draft_save(labeling=task, steps=[{"rating": 1, "flagged": False}] * len(task.solution.steps))
    return labeling_submit(labeling=task, finish_reason="solution")


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


def test_submits_below_the_threshold_cost_no_query_and_imports_are_caught_by_the_watchdog(
    django_capture_on_commit_callbacks, django_assert_num_queries
):
    project, user = queue_project(solutions=8, retrain_every=4)
    with django_capture_on_commit_callbacks(execute=True):
        submit_one(project, user)  # no estimate yet: a real check (1 of 4)
    with django_assert_num_queries(0):  # 3 still wanted: the cached countdown answers
        assert pipeline.labels_maybe_trigger(project.pk, after_submit=True) is None
    # labels that arrive without a submit (an import) are not counted down ...
    LabelingFactory.create_batch(
        3, project=project, status=LabelingStatus.SUBMITTED, submitted_at=timezone.now()
    )
    with django_assert_num_queries(0):
        assert pipeline.labels_maybe_trigger(project.pk, after_submit=True) is None
    assert not Run.objects.exists()
    # ... the watchdog's full check sees them
    pipeline.runs_watchdog()
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
    assert pipeline.runs_dispatch_pending() == []


def test_a_run_queued_while_the_broker_was_down_is_sent_when_it_is_back(broker_down):
    project, _ = queue_project()
    run = pipeline.run_create(project=project, trigger="lead")
    assert pipeline.run_dispatch(run.pk) is False
    run.refresh_from_db()
    assert run.dispatched_at is None


def test_the_watchdog_sends_runs_the_broker_missed():
    project, _ = queue_project()
    run = pipeline.run_create(project=project, trigger="lead")
    assert pipeline.runs_dispatch_pending() == []  # too fresh: its own dispatch may be coming
    Run.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    assert pipeline.runs_dispatch_pending() == [run.pk]
    run.refresh_from_db()
    assert run.dispatched_at is not None and "sent to the workers" in run.log
    assert pipeline.runs_dispatch_pending() == []  # never sent twice


def test_a_silent_running_run_is_failed_and_no_longer_blocks_the_project():
    project, _ = queue_project()
    run = pipeline.run_create(project=project, trigger="lead")
    version = ModelVersion.objects.create(project=project, backbone="x")
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING,
        stage="train",
        model_version=version,
        heartbeat_at=timezone.now() - pipeline.stale_after() - timedelta(seconds=1),
    )
    second = pipeline.run_create(project=project, trigger="lead")  # fails the dead one first
    run.refresh_from_db()
    version.refresh_from_db()
    assert run.status == RunStatus.FAILED and "no sign of life" in run.error
    assert version.status == ModelStatus.FAILED
    assert second.status == RunStatus.QUEUED


def test_a_run_that_is_alive_is_not_failed():
    project, _ = queue_project()
    run = pipeline.run_create(project=project, trigger="lead")
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, heartbeat_at=timezone.now())
    assert pipeline.runs_fail_stale() == []
    with pytest.raises(pipeline.RunRefused):
        pipeline.run_create(project=project, trigger="lead")


def test_a_redelivered_start_fails_the_run_instead_of_running_twice():
    project, _ = queue_project()
    run = pipeline.run_create(project=project, trigger="lead")
    assert pipeline.run_begin(run.pk) is not None
    assert pipeline.run_begin(run.pk) is None  # the same message again: its worker died
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "delivered again" in run.error


def test_the_schedule_starts_a_run_when_due_and_there_are_new_labels():
    project, _ = queue_project()
    LoopSettings.objects.filter(project=project).update(schedule_enabled=True, schedule_minutes=60)
    assert pipeline.runs_schedule_due() == []  # no labels yet
    LabelingFactory(solution=SolutionFactory(problem__project=project))
    started = pipeline.runs_schedule_due()
    assert len(started) == 1 and Run.objects.get().trigger == "schedule"
    Run.objects.update(status=RunStatus.SUCCEEDED)
    LabelingFactory(solution=SolutionFactory(problem__project=project))
    assert pipeline.runs_schedule_due() == []  # the interval has not passed
    Run.objects.update(created_at=timezone.now() - timedelta(minutes=61))
    assert len(pipeline.runs_schedule_due()) == 1


def test_cancel_and_retry():
    project, _ = queue_project()
    run = pipeline.run_create(project=project, trigger="lead", params={"seed": 7})
    pipeline.run_cancel(run=run)
    assert run.status == RunStatus.FAILED and "cancelled" in run.error
    with pytest.raises(Conflict):
        pipeline.run_cancel(run=run)
    retry = pipeline.run_retry(run=run)
    assert retry.retry_of == run and retry.params["seed"] == 7 and retry.trigger == "retry"
    with pytest.raises(Conflict, match="only a failed run"):
        pipeline.run_retry(run=retry)
