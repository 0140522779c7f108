"""Fixtures of the simulation's tests: a models folder of the test's own, ProcessBench-like
records and a data file of them (the tiny backbone, `tiny_backbone`, is
tests/active_learning/conftest.py's)."""

import json
import random

import pytest


@pytest.fixture(autouse=True)
def models_dir(loop_models_dir):
    """Every test here saves and loads models in a folder of its own."""
    return loop_models_dir


def processbench_records(problems: int, seed: int = 0) -> list[dict]:
    """ProcessBench-shaped records: a wrong step says 'oops'; `label` is its index, or -1."""
    rng = random.Random(seed)
    records = []
    for p in range(problems):
        for s in range(rng.randint(1, 2)):
            steps, label = [], -1
            for i in range(rng.randint(2, 4)):
                a, b = rng.randint(1, 9), rng.randint(1, 9)
                if label == -1 and rng.random() < 0.35:
                    steps.append(f"oops {a}+{b}={a + b + 1}")
                    label = i
                else:
                    steps.append(f"so {a}+{b}={a + b}")
            steps.append(f"The answer is \\boxed{{{p + s}}}.")
            records.append(
                {
                    "id": f"t-{p}-{s}",
                    "generator": "test",
                    "problem": f"Problem {p}: add the numbers.",
                    "steps": steps,
                    "final_answer_correct": label == -1,
                    "label": label,
                }
            )
    return records


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "processbench_test.json"
    path.write_text(json.dumps(processbench_records(24)))
    return path
