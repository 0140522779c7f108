"""Every PRM800K rating is used: counted on the shared records (../shared/data)."""

import pytest

from active_learning.prm import data
from active_learning.prm.data import NEGATIVE, NEUTRAL, POSITIVE
from tests.conftest import SHARED_DATA


def test_every_rating_of_every_shared_record_is_used_once(sample_records):
    """The old reader cut each labeling at the first `completions[0]` rated -1 and used only
    the trajectory: the two phase-1 `solution` samples gave 2 of 14 and 1 of 27 ratings."""
    used = present = 0
    for record in sample_records:
        examples = data.from_prm800k_record(record)
        steps = record["label"]["steps"]
        assert data.labeled_steps(examples) == data.ratings_present(steps), record["timestamp"]
        used += data.labeled_steps(examples)
        present += data.ratings_present(steps)
    assert used == present == 255  # 14 + 107 + 27 + the nine phase-2 records' 107


def test_a_phase1_labeling_follows_the_labelers_path(sample_records):
    record = sample_records[0]  # 6 steps; step 1: five rated -1, the labeler wrote their own
    examples = data.from_prm800k_record(record)
    trajectory, alternatives = examples[0], examples[1:]
    steps = record["label"]["steps"]
    human = steps[1]["human_completion"]["text"]
    # the path goes on through the human step (unrated: not trained on) to the end
    assert trajectory.steps[1] == human and trajectory.labels[1] is None
    assert len(trajectory.steps) == 6
    assert trajectory.steps[5] == steps[5]["completions"][4]["text"]  # chosen_completion 4
    # each rated alternative: the path so far, then that completion with its own rating
    at_step_1 = [a for a in alternatives if len(a.steps) == 2]
    assert [a.steps[1] for a in at_step_1] == [c["text"] for c in steps[1]["completions"]]
    assert all(a.labels == [None, NEGATIVE] for a in at_step_1)
    at_step_5 = [a for a in alternatives if len(a.steps) == 6]
    assert [a.labels[-1] for a in at_step_5] == [POSITIVE, POSITIVE, POSITIVE, POSITIVE]
    assert all(a.steps[:5] == trajectory.steps[:5] for a in at_step_5)


def test_neutral_ratings_follow_the_chosen_mapping(sample_records):
    examples = data.from_prm800k_record(sample_records[0], data.NeutralAs.OWN_CLASS)
    assert any(e.labels[-1] == NEUTRAL for e in examples[1:])  # "We could also solve..." (0)


def test_phase2_stops_at_the_first_error():
    steps = [
        {"completions": [{"text": "a", "rating": 1}], "chosen_completion": 0},
        {"completions": [{"text": "b", "rating": -1}], "chosen_completion": 0},
        {"completions": [{"text": "c", "rating": 1}], "chosen_completion": 0},
    ]
    record = {
        "generation": 6,
        "question": {"problem": "p"},
        "label": {"steps": steps, "finish_reason": "found_error"},
    }
    (example,) = data.from_prm800k_record(record)
    assert example.steps == ["a", "b"] and example.labels == [POSITIVE, NEGATIVE]
    phase1 = data.from_prm800k_record({**record, "generation": None})
    assert phase1[0].labels == [POSITIVE, NEGATIVE, POSITIVE]


def test_a_bad_problem_gives_nothing(sample_records):
    record = sample_records[0]
    bad = {**record, "label": {**record["label"], "finish_reason": "bad_problem"}}
    assert data.from_prm800k_record(bad) == []


@pytest.mark.parametrize("split", ["test"])
def test_phase1_stepwise_rows_merge_into_trajectories_without_losing_a_rating(split):
    """The stepwise file re-encodes each trajectory once per rated step; merged, each distinct
    path is encoded once and each distinct (path, rating) is still a label."""
    rows = list(data.read_phase1_parquet(SHARED_DATA / f"prm800k_phase1_{split}_stepwise.parquet"))
    distinct = {
        (r["instruction"], tuple(r["responses"] or ()), r["next_response"], r["rating"])
        for r in rows
        if r["rating"] is not None and r["rating"] == r["rating"]
    }
    rated_rows = sum(1 for r in rows if r["rating"] is not None and r["rating"] == r["rating"])
    examples = list(data.from_phase1_stepwise(rows))
    assert data.labeled_steps(examples) == len(distinct)
    assert len(examples) < rated_rows
    for e in examples[:200]:
        assert e.labels[-1] is not None
