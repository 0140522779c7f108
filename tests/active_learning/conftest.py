"""A tiny backbone built in code and a project with labels and an unlabeled candidate pool, for
the loop's tests (fast on CPU, no downloads)."""

import pytest

from active_learning.models import LoopSettings
from labeling.models import Generation, GenerationItem
from tests.active_learning.prm.conftest import byte_tokenizer, synthetic_examples
from tests.factories import LabelingFactory, ProblemFactory, ProjectFactory, SolutionFactory


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory) -> str:
    from active_learning.prm.model import tiny_model

    tokenizer = byte_tokenizer()
    folder = tmp_path_factory.mktemp("tiny-backbone")
    tiny_model(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture
def loop_models_dir(settings, tmp_path):
    from active_learning.services import scoring

    settings.MODELS_DIR = tmp_path / "models"
    scoring._loaded.clear()
    return settings.MODELS_DIR


def label_steps(steps, labels):
    return [
        {
            "completions": [{"text": t, "rating": 1 if label == 2 else -1, "flagged": False}],
            "human_completion": None,
            "chosen_completion": 0,
        }
        for t, label in zip(steps, labels, strict=True)
    ]


def loop_project(backbone: str, *, labeled=30, problems=6, per_problem=5, **settings):
    """A project with `labeled` submitted labelings, a pool of problems x per_problem unlabeled
    candidates (every other one with a wrong answer), generation 0 serving the pool, and loop
    settings for fast head-mode training on `backbone`."""
    project = ProjectFactory()
    for example in synthetic_examples(labeled, seed=11):
        solution = SolutionFactory(problem__project=project, steps=example.steps)
        steps = label_steps(example.steps, example.labels)
        reason = "found_error" if steps[-1]["completions"][0]["rating"] == -1 else "solution"
        LabelingFactory(solution=solution, finish_reason=reason, steps=steps)
    pool = []
    examples = iter(synthetic_examples(problems * per_problem, seed=23))
    for _ in range(problems):
        problem = ProblemFactory(project=project)
        for i in range(per_problem):
            example = next(examples)
            pool.append(
                SolutionFactory(
                    problem=problem, steps=example.steps, is_correct=bool(i % 2), final_answer="x"
                )
            )
    generation = Generation.objects.create(project=project, number=0, strategy="uniform")
    GenerationItem.objects.bulk_create(
        GenerationItem(generation=generation, solution=s, rank=i) for i, s in enumerate(pool)
    )
    LoopSettings.objects.create(
        project=project,
        backbone=backbone,
        training_mode=settings.pop("training_mode", "head"),
        epochs=1,
        batch_size=settings.pop("batch_size", 8),
        per_problem_cap=settings.pop("per_problem_cap", 2),
        score_chunk_size=settings.pop("score_chunk_size", 7),
        **settings,
    )
    return project, pool


@pytest.fixture
def broker_down():
    """The Celery app points at a Redis port where nothing listens (connection refused), as
    when Redis is down; restored afterwards."""
    from active_learning import health
    from config.celery import app

    def reset():
        app._pool = None
        app.amqp._producer_pool = None
        health._broker.update(ok=None, checked=0.0)

    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:9/0"
    reset()
    yield
    app.conf.broker_url = old
    reset()
