"""The pure PRM800K format module: canonical layout, validation messages, trajectories."""

import copy
import json
from datetime import UTC, datetime

import pytest

from labeling import prm800k


def record_fields(record: dict) -> dict:
    """What build_record needs, taken from a parsed record."""
    question = record["question"]
    return {
        "labeler": record["labeler"],
        "timestamp": record["timestamp"],
        "generation": record["generation"],
        "is_quality_control": record["is_quality_control_question"],
        "is_screening": record["is_initial_screening_question"],
        "question": question,
        "question_keys": None if list(question) == list(prm800k.QUESTION_KEYS) else list(question),
        "steps": record["label"]["steps"],
        "total_time": record["label"]["total_time"],
        "finish_reason": record["label"]["finish_reason"],
    }


def test_every_shared_sample_is_valid_and_rebuilds_byte_for_byte(sample_lines):
    for line in sample_lines:
        record = json.loads(line)
        prm800k.validate_record(record)
        assert prm800k.dumps_record(prm800k.build_record(**record_fields(record))) == line


def test_key_order_is_restored_after_a_database_reorders_keys(sample_lines):
    # PostgreSQL's jsonb sorts keys; the writer must put them back in release order.
    for line in sample_lines:
        record = json.loads(line)
        scrambled = json.loads(json.dumps(record, sort_keys=True))
        fields = record_fields(record)
        fields["steps"] = scrambled["label"]["steps"]
        assert prm800k.dumps_record(prm800k.build_record(**fields)) == line


def test_release_escapes_non_ascii_and_uses_spaced_separators():
    fields = {
        "labeler": "e90a38f3-3135-4465-87af-3e6322e3d772",
        "timestamp": "2022-07-30T23:23:32.118856",
        "generation": 3,
        "is_quality_control": False,
        "is_screening": False,
        "question": {"problem": "Find π ÷ 2", "ground_truth_answer": "½"},
        "question_keys": ["problem", "ground_truth_answer"],
        "steps": [],
        "total_time": 5,
        "finish_reason": "give_up",
    }
    line = prm800k.dumps_record(prm800k.build_record(**fields))
    assert '"problem": "Find \\u03c0 \\u00f7 2"' in line
    assert line.startswith('{"labeler": "e90a38f3')
    assert line.isascii()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.pop("labeler"), "labeler: missing"),
        (lambda r: r.update(labeler="alice"), "labeler: must be a UUID"),
        (lambda r: r.update(timestamp="yesterday"), "timestamp: not an ISO 8601"),
        (lambda r: r.update(generation="6"), "generation: must be an integer or null, got string"),
        (lambda r: r.update(generation=True), "generation: must be an integer or null"),
        (lambda r: r.update(is_quality_control_question=None), "is_quality_control_question"),
        (lambda r: r["question"].pop("problem"), "question.problem: missing"),
        (lambda r: r["question"].update(pre_generated_steps="a"), "question.pre_generated_steps"),
        (
            lambda r: r["label"]["steps"][1]["completions"][0].update(rating=2),
            "label.steps[1].completions[0].rating: must be -1, 0, 1 or null, got 2",
        ),
        (
            lambda r: r["label"]["steps"][0]["completions"][0].update(rating="1"),
            "label.steps[0].completions[0].rating: must be -1, 0, 1 or null",
        ),
        (
            lambda r: r["label"]["steps"][0]["completions"][0].update(flagged="no"),
            "label.steps[0].completions[0].flagged",
        ),
        (
            lambda r: r["label"]["steps"][0].update(chosen_completion=7),
            "label.steps[0].chosen_completion: 7 is not the index",
        ),
        (lambda r: r["label"].update(finish_reason="done"), "label.finish_reason: must be one of"),
        (lambda r: r["label"].update(total_time=-3), "label.total_time"),
        (lambda r: r["label"].update(steps={}), "label.steps: must be an array"),
        (lambda r: r.update(label=[]), "label: must be an object"),
    ],
)
def test_validation_names_the_offending_field(sample_records, mutate, message):
    record = copy.deepcopy(sample_records[3])
    mutate(record)
    with pytest.raises(prm800k.RecordError) as caught:
        prm800k.validate_record(record)
    assert message in str(caught.value)


def test_nulls_where_the_release_has_them_are_valid(sample_records):
    record = copy.deepcopy(sample_records[3])
    record["generation"] = None
    record["label"]["total_time"] = None
    step = record["label"]["steps"][0]
    step["completions"] = None
    step["chosen_completion"] = None
    record["label"]["steps"][1]["completions"][0].update(rating=None, flagged=None)
    record["question"]["pre_generated_verifier_score"] = None
    prm800k.validate_record(record)


def test_trajectory_follows_chosen_and_human_completions(sample_records):
    record = sample_records[0]  # phase 1: step 1 was replaced by the labeler's own step
    path = prm800k.trajectory(record["label"]["steps"])
    assert path[1] == "We have $3p+e=1.24$ and $5p+e=1.82$."
    assert path[-1].endswith("# Answer\n\n29")
    assert prm800k.answer_of(path) == "29"


def test_ratings_rows_cover_every_completion_and_human_completion(sample_records):
    record = sample_records[0]
    rows = list(prm800k.iter_ratings(record["label"]["steps"]))
    completions = sum(len(s["completions"] or ()) for s in record["label"]["steps"])
    humans = sum(s["human_completion"] is not None for s in record["label"]["steps"])
    assert len(rows) == completions + humans
    assert any(r.completion_index == -1 for r in rows)


def test_first_error_index(sample_records):
    assert prm800k.first_error_index(sample_records[3]["label"]["steps"]) == 6
    # Phase 1: the first completion at step 1 was rated -1 (the labeler then wrote their own).
    assert prm800k.first_error_index(sample_records[0]["label"]["steps"]) == 1
    assert prm800k.first_error_index(sample_records[0]["label"]["steps"][:1]) is None


def test_timestamps_are_utc_without_zone_and_keep_microseconds():
    parsed = prm800k.parse_timestamp("2022-11-17T14:06:03.483479")
    assert parsed == datetime(2022, 11, 17, 14, 6, 3, 483479, tzinfo=UTC)
    assert prm800k.format_timestamp(parsed) == "2022-11-17T14:06:03.483479"
