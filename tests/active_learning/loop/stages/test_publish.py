"""The publish stage (`active_learning/loop/stages/publish.py`): the only stage that changes what
annotators see, once per run, and never for a run that failed."""

import pytest

from active_learning.loop import runs, triggers
from active_learning.loop.stages import publish
from active_learning.models import ModelVersion, Run, RunStatus
from labeling.models import Generation
from tests.active_learning.loop.conftest import queue_project

pytestmark = pytest.mark.django_db


def _trained_run(project):
    """A running run with a trained (ready, not current) model version and no scores, as the
    train stage leaves it: the uniform strategy needs none."""
    run = triggers.run_create(project=project, trigger="lead", params={"strategy": "uniform"})
    runs.run_begin(run.pk)
    version = ModelVersion.objects.create(project=project, backbone="x", status="ready")
    Run.objects.filter(pk=run.pk).update(model_version=version)
    return run, version


def test_a_publish_delivered_twice_publishes_one_generation():
    """Would catch a redelivered publish task (its worker died after the commit) publishing a
    second generation."""
    project, _user = queue_project(solutions=6)
    run, version = _trained_run(project)
    published = publish.run_publish(run.pk)
    assert published.status == RunStatus.SUCCEEDED and published.generation.number == 1
    assert publish.run_publish(run.pk) is None
    assert Generation.objects.filter(project=project, number__gte=1).count() == 1
    version.refresh_from_db()
    assert version.is_current


def test_a_failed_run_publishes_nothing_and_its_model_stays_out():
    """Would catch a run failed by the watchdog (or a stage) while its publish task was queued
    still publishing: the previous generation and model stay current."""
    project, _user = queue_project(solutions=6)
    run, version = _trained_run(project)
    runs.run_fail(run.pk, "its worker went silent")
    assert publish.run_publish(run.pk) is None
    assert not Generation.objects.filter(project=project, number__gte=1).exists()
    version.refresh_from_db()
    assert not version.is_current
