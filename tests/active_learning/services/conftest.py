"""Fixtures of the PRM services' tests: a models folder of the test's own and a project with
labelings (the tiny backbone, `tiny_backbone`, is tests/active_learning/conftest.py's)."""

import pytest

from tests.active_learning.prm.conftest import synthetic_examples
from tests.factories import LabelingFactory, ProjectFactory, SolutionFactory


@pytest.fixture(autouse=True)
def models_dir(loop_models_dir):
    """Every test here saves and loads models in a folder of its own."""
    return loop_models_dir


def labeled_project(count=60):
    project = ProjectFactory()
    for example in synthetic_examples(count, seed=11):
        solution = SolutionFactory(problem__project=project, steps=example.steps)
        labeling = LabelingFactory(solution=solution, finish_reason="solution")
        labeling.steps = [
            {
                "completions": [{"text": t, "rating": 1 if label == 2 else -1, "flagged": False}],
                "human_completion": None,
                "chosen_completion": 0,
            }
            for t, label in zip(example.steps, example.labels, strict=True)
        ]
        if labeling.steps[-1]["completions"][0]["rating"] == -1:
            labeling.finish_reason = "found_error"
        labeling.save()
    return project
