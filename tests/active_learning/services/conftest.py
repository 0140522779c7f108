"""Fixtures of the PRM services' tests: a tiny backbone built in code, a models folder of
the test's own, a project with labelings."""

import pytest

from active_learning.prm.model import tiny_model
from active_learning.services import scoring
from tests.active_learning.prm.conftest import byte_tokenizer, synthetic_examples
from tests.factories import LabelingFactory, ProjectFactory, SolutionFactory


@pytest.fixture
def backbone(tmp_path) -> str:
    tokenizer = byte_tokenizer()
    folder = tmp_path / "tiny-backbone"
    tiny_model(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(autouse=True)
def models_dir(settings, tmp_path):
    settings.MODELS_DIR = tmp_path / "models"
    scoring._loaded.clear()


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
