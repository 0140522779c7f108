"""The experiment's pools (`active_learning/experiments/pools.py`): a ProcessBench file read into
candidates with their first error and graded final answer."""

import json

from active_learning.experiments.pools import processbench_items
from active_learning.prm.data import PROMPT_SUFFIX


def test_processbench_records_become_items_with_their_first_error_and_grade(tmp_path):
    """Would catch the expert label read as something else than the first wrong step's index
    (-1: none), a missing grade read as wrong, or the prompt suffix left on the problem (the
    problem-level split would then see two problems)."""
    records = [
        {"id": "a", "problem": "P" + PROMPT_SUFFIX, "steps": ["s1", "s2"], "label": 1,
         "final_answer_correct": False},
        {"id": "b", "problem": "P", "steps": ["s1"], "label": -1, "final_answer_correct": True},
        {"id": "c", "problem": "Q", "steps": ["t1", "t2", "t3"], "label": 0},
    ]  # fmt: skip
    path = tmp_path / "pb.json"
    path.write_text(json.dumps(records))
    items = processbench_items(path)
    assert [i.key for i in items] == ["pb:a", "pb:b", "pb:c"]
    assert [i.problem for i in items] == ["P", "P", "Q"]
    assert [i.first_error for i in items] == [1, -1, 0]
    assert [i.has_error for i in items] == [True, False, True]
    assert [i.final_correct for i in items] == [False, True, None]
    assert items[2].steps == ["t1", "t2", "t3"] and items[2].features is None
