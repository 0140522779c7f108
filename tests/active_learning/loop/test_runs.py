"""A run's record (`active_learning/loop/runs.py`): silent runs failed, redelivered starts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from active_learning.loop import runs, triggers
from active_learning.models import ModelStatus, ModelVersion, Run, RunStatus
from tests.active_learning.loop.conftest import queue_project

pytestmark = pytest.mark.django_db


def test_a_silent_running_run_is_failed_and_no_longer_blocks_the_project():
    project, _ = queue_project()
    run = triggers.run_create(project=project, trigger="lead")
    version = ModelVersion.objects.create(project=project, backbone="x")
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING,
        stage="train",
        model_version=version,
        heartbeat_at=timezone.now() - runs.stale_after() - timedelta(seconds=1),
    )
    second = triggers.run_create(project=project, trigger="lead")  # fails the dead one first
    run.refresh_from_db()
    version.refresh_from_db()
    assert run.status == RunStatus.FAILED and "no sign of life" in run.error
    assert version.status == ModelStatus.FAILED
    assert second.status == RunStatus.QUEUED


def test_a_run_that_is_alive_is_not_failed():
    project, _ = queue_project()
    run = triggers.run_create(project=project, trigger="lead")
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, heartbeat_at=timezone.now())
    assert runs.runs_fail_stale() == []
    with pytest.raises(triggers.RunRefused):
        triggers.run_create(project=project, trigger="lead")


def test_a_redelivered_start_fails_the_run_instead_of_running_twice():
    project, _ = queue_project()
    run = triggers.run_create(project=project, trigger="lead")
    assert runs.run_begin(run.pk) is not None
    assert runs.run_begin(run.pk) is None  # the same message again: its worker died
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "delivered again" in run.error
