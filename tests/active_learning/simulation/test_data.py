"""The simulation's oracle and data split (`active_learning/simulation/data.py`)."""

import pytest

from active_learning.simulation import config, data
from tests.active_learning.simulation.conftest import processbench_records

pytestmark = pytest.mark.django_db


def test_the_oracle_maps_processbench_labels():
    good = {"rating": 1, "flagged": False}
    bad = {"rating": -1, "flagged": False}
    assert data.oracle_answer(-1, 3) == ([good, good, good], "solution")
    assert data.oracle_answer(0, 3) == ([bad], "found_error")
    assert data.oracle_answer(2, 4) == ([good, good, bad], "found_error")
    for label in (3, -2, True, "1", None):
        with pytest.raises(ValueError):
            data.oracle_answer(label, 3)
    oracle = data.Oracle([{"problem": " P ", "steps": ["a", "b"], "label": 1}])
    assert oracle.answer("P", ["a", "b"]) == ([good, bad], "found_error")
    with pytest.raises(config.SimulationError):
        oracle.answer("P", ["a", "c"])


def test_the_split_keeps_held_out_problems_out_of_the_pool():
    records = processbench_records(60, seed=3)
    for r in records:
        r["file"] = "x.json"
    pool, held_out = data.split(records, 0.3, seed=1)
    assert held_out and pool
    assert not {r["problem"] for r in pool} & {r["problem"] for r in held_out}
    assert len(pool) + len(held_out) == len(records)
    assert data.split(records, 0.3, seed=1) == (pool, held_out)  # deterministic
    assert data.split(records, 0.3, seed=2)[1] != held_out  # the seed moves it
    small, same_held_out = data.split(records, 0.3, seed=1, pool_size=5)
    assert len(small) == 5 and same_held_out == held_out
