"""Scoring solutions with a version (`active_learning/services/scoring.py`)."""

import pytest

from active_learning.models import SolutionScore
from active_learning.prm.training import TrainConfig
from active_learning.services import scoring, training
from tests.active_learning.services.conftest import labeled_project
from tests.factories import SolutionFactory

pytestmark = pytest.mark.django_db


def test_truncated_solutions_are_marked(tiny_backbone, tmp_path):
    project = labeled_project(20)
    version = training.model_train(
        project=project,
        backbone=tiny_backbone,
        config=TrainConfig(mode="head", epochs=1, max_length=64),
    )
    solution = SolutionFactory(problem__project=project, steps=["x" * 30] * 5)
    scoring.solutions_score(version=version, solution_ids=[solution.pk])
    stored = SolutionScore.objects.get(solution=solution)
    assert stored.truncated and len(stored.step_scores) < 5
    # the training evaluation counts truncated held-out solutions (issue 12: they were silent)
    metrics = version.metrics
    assert metrics["max_length"] == 64
    assert metrics["held_out_solutions"] == version.data_snapshot["held_out_examples"]
    assert 0 <= metrics["held_out_truncated"] <= metrics["held_out_solutions"]
