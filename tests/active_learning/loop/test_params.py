"""A run's parameters and their checks (`active_learning/loop/params.py`)."""

import pytest

from active_learning.loop import in_process, params
from active_learning.models import Run
from labeling.errors import ApplicationError
from tests.active_learning.conftest import loop_project

pytestmark = pytest.mark.django_db


def test_bad_parameters_are_named_and_create_nothing(tiny_backbone):
    project, _ = loop_project(tiny_backbone)
    with pytest.raises(ApplicationError) as caught:
        in_process.run_round(project, batch_size=0, wrong_share=2, strategy="best")
    text = str(caught.value)
    assert "batch_size" in text and "wrong_share" in text and "strategy" in text
    with pytest.raises(ApplicationError, match="Unknown run parameter"):
        in_process.run_round(project, bach_size=3)
    assert not Run.objects.exists()


def test_bad_training_options_are_named(tiny_backbone):
    project, _pool = loop_project(tiny_backbone)
    with pytest.raises(ApplicationError) as caught:
        params.run_params(
            project, {"train": {"grad_accumulation": 0, "packing": "yes", "precision": "fp8"}}
        )
    details = " ".join(caught.value.details)
    assert "train.grad_accumulation" in details and "train.packing" in details
    assert "train.precision" in details
    with pytest.raises(ApplicationError) as caught:
        params.run_params(project, {"train": {"token_budget": 512, "max_length": 1024}})
    assert "train.token_budget: must be at least train.max_length" in caught.value.details[0]


def test_generate_problem_ids_of_another_project_are_refused_before_a_run_exists():
    """A generator run for problem ids that are not the project's was queued (API) or made and
    failed (command), and only the worker said why. Catches ids checked after the run exists:
    the trigger is refused naming the field, and no run is made."""
    from active_learning.loop import triggers
    from tests.factories import ProblemFactory, ProjectFactory

    project = ProjectFactory()
    mine = ProblemFactory(project=project)
    theirs = ProblemFactory()
    generate = {"only": True, "options": {}, "problem_ids": [mine.pk, theirs.pk]}
    with pytest.raises(ApplicationError) as caught:
        triggers.run_trigger(project=project, trigger="api", params={"generate": generate})
    assert caught.value.details == [
        f"generate.problem_ids: {theirs.pk} are not problems of project {project.name!r}"
    ]
    assert not Run.objects.exists()
    generate["problem_ids"] = [mine.pk]
    assert params.run_params(project, {"generate": generate})["generate"]["problem_ids"] == [
        mine.pk
    ]
