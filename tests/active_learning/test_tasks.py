"""The loop's Celery task bodies, called directly: which exceptions fail a run."""

import pytest

from active_learning import tasks
from active_learning.loop import triggers
from active_learning.loop.stages import train
from active_learning.models import Run, RunStatus, RunTrigger
from tests.active_learning.conftest import loop_project

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("raised", "status"),
    [(SystemExit(143), RunStatus.RUNNING), (KeyboardInterrupt(), RunStatus.RUNNING)],
)
def test_a_worker_being_stopped_does_not_fail_its_run(tiny_backbone, monkeypatch, raised, status):
    """SIGTERM (SystemExit in the task) or Ctrl-C is the operator stopping a worker, not the
    run failing: the tasks used to catch BaseException and mark the run failed; now the
    acks_late message comes back and the redelivery decides."""
    project, _pool = loop_project(tiny_backbone)
    run = triggers.run_create(project=project, trigger=RunTrigger.LEAD, in_process=True)

    def stopped(run_id):
        raise raised

    monkeypatch.setattr(train, "run_train", stopped)
    with pytest.raises(type(raised)):
        tasks.run_start.run(run.pk)
    assert Run.objects.get(pk=run.pk).status == status


def test_an_error_in_a_stage_fails_its_run(tiny_backbone, monkeypatch):
    project, _pool = loop_project(tiny_backbone)
    run = triggers.run_create(project=project, trigger=RunTrigger.LEAD, in_process=True)

    def broken(run_id):
        raise ValueError("no labels")

    monkeypatch.setattr(train, "run_train", broken)
    with pytest.raises(ValueError):
        tasks.run_start.run(run.pk)
    failed = Run.objects.get(pk=run.pk)
    assert failed.status == RunStatus.FAILED and "no labels" in failed.error
