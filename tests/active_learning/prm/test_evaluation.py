"""Evaluation comparable with published numbers (ProcessBench protocol, best-of-N)."""

import pytest

from active_learning.prm import evaluation
from labeling.grading import answer_key, answers_equivalent


def test_the_standard_protocol_flags_the_first_step_with_p_error_above_half():
    # step score = P(not error); 0.49 means P(error) = 0.51 > 0.5: an error
    labels = [1, -1, 0]
    scores = [[0.9, 0.49, 0.2], [0.51, 0.6], [0.3, 0.9]]
    result = evaluation.first_error_f1(labels, scores, evaluation.STANDARD_THRESHOLD)
    assert (result.error_accuracy, result.correct_accuracy, result.f1) == (1.0, 1.0, 1.0)
    assert evaluation.STANDARD_THRESHOLD == 0.5


def test_baselines():
    labels, counts = [2, -1, 0, -1], [3, 4, 1, 1]
    always = evaluation.baseline_always_correct(labels)
    assert (always.error_accuracy, always.correct_accuracy, always.f1) == (0.0, 1.0, 0.0)
    rand = evaluation.baseline_random(labels, counts)
    assert rand.error_accuracy == pytest.approx((1 / 4 + 1 / 2) / 2)
    assert rand.correct_accuracy == pytest.approx((1 / 5 + 1 / 2) / 2)


def test_majority_voting_groups_answers_by_the_graders_equivalence():
    """\\frac12, 0.5 and 1/2 are one answer; grouped by text they were three, and the wrong
    answer 3 (two votes) won the vote."""
    candidates = [
        ("p", "\\frac12", True, 0.1),
        ("p", "0.5", True, 0.2),
        ("p", "1/2", True, 0.3),
        ("p", "3", False, 0.9),
        ("p", "3", False, 0.8),
    ]
    by_text = evaluation.best_of_n(candidates)
    assert by_text.majority_accuracy == 0.0
    graded = evaluation.best_of_n(candidates, equivalent=answers_equivalent, key=answer_key)
    assert graded.majority_accuracy == 1.0
    assert graded.prm_accuracy == 0.0  # the PRM preferred a wrong "3"
    assert graded.random_accuracy == pytest.approx(3 / 5) and graded.any_correct == 1.0
    assert graded.grouping.endswith("answers_equivalent")


def test_group_answers_keeps_different_answers_apart():
    groups = evaluation.group_answers(
        ["2", "2.0", "\\frac{4}{2}", "3", None, None], answers_equivalent, answer_key
    )
    assert groups[0] == groups[1] == groups[2] != groups[3]
    assert groups[4] == groups[5] not in groups[:4]
