"""The disagreement queue's rule (labeling/disagreement_rules.py): it picks exactly the cases
it names, at the edges of k and of the confidence threshold, within the budget."""

import pytest

from labeling.disagreement_rules import (
    ANNOTATORS_DISAGREE,
    FIRST_ERROR_FAR,
    PRM_CONFIDENT_ERROR,
    Labeled,
    pick,
    reasons_for,
)

K, CONFIDENCE = 2, 0.9
GOOD = 0.95  # a step score the PRM thinks fine


def scores(n, error_at=None, p_error=0.95):
    out = [GOOD] * n
    if error_at is not None:
        out[error_at] = 1.0 - p_error
    return out


CASES = [
    # human says no error; PRM P(error) 0.9 = the threshold: inside (>=)
    Labeled(1, 6, [-1], scores(6, 3, 0.9)),
    # ... 0.89: just outside
    Labeled(2, 6, [-1], scores(6, 3, 0.89)),
    # first errors 3 apart (> k = 2): inside
    Labeled(3, 8, [0], scores(8, 3, 0.6)),
    # exactly k = 2 apart: outside
    Labeled(4, 8, [1], scores(8, 3, 0.6)),
    # annotators disagree (2 vs 4), both within k of the PRM (2), which is not confident
    Labeled(5, 8, [2, 4], scores(8, 2, 0.6)),
    # annotators agree with each other and the PRM: nothing
    Labeled(6, 8, [4, 4], scores(8, 4, 0.99)),
    # not scored by the new model, annotators agree: nothing
    Labeled(7, 8, [1, 1], None),
    # not scored, annotators disagree: still a candidate
    Labeled(8, 8, [1, -1], None),
]


def test_the_rule_picks_exactly_the_named_cases_at_the_edges():
    """Catches `>` for `>=` at the confidence threshold (would drop 1), `>=` for `>` at k
    (would add 4), a case with no reason picked (6, 7), and a disagreement ignored when the
    model did not score the solution (8)."""
    picked = pick(CASES, k=K, confidence=CONFIDENCE, budget=100)
    assert {(p.solution_id, p.reason) for p in picked} == {
        (1, PRM_CONFIDENT_ERROR),
        (3, FIRST_ERROR_FAR),
        (5, ANNOTATORS_DISAGREE),
        (8, ANNOTATORS_DISAGREE),
    }
    assert picked[0].detail["prm_first_error"] == 3
    assert picked[0].detail["human_first_errors"] == [-1]


def test_a_budget_smaller_than_the_candidates_keeps_the_strongest_by_reason_order():
    """Budget 2 of 4 candidates: the PRM-confident one first, then the far one (reason order
    of the module docstring); catches a budget that is not applied or applied before sorting
    (solution-id order would keep 1 and 3 too, so the third case checks strength)."""
    assert [p.solution_id for p in pick(CASES, k=K, confidence=CONFIDENCE, budget=2)] == [1, 3]
    strong = Labeled(9, 6, [-1], scores(6, 1, 0.99))
    picked = pick([*CASES, strong], k=K, confidence=CONFIDENCE, budget=1)
    assert [p.solution_id for p in picked] == [9]
    assert pick(CASES, k=K, confidence=CONFIDENCE, budget=0) == []


def test_a_solution_with_several_reasons_is_listed_once_under_the_first():
    both = Labeled(10, 8, [-1, 6], scores(8, 0, 0.97))
    picked = pick([both], k=K, confidence=CONFIDENCE, budget=5)
    assert [(p.solution_id, p.reason) for p in picked] == [(10, PRM_CONFIDENT_ERROR)]


@pytest.mark.parametrize(
    "kwargs", [{"k": -1}, {"confidence": 0.0}, {"confidence": 1.5}, {"budget": -1}]
)
def test_bad_parameters_are_refused(kwargs):
    params = {"k": K, "confidence": CONFIDENCE, "budget": 3, **kwargs}
    with pytest.raises(ValueError, match="disagreement rule needs"):
        pick(CASES, **params)


@pytest.mark.parametrize("confidence", [0.1, 0.3, 0.35, 0.45, 0.55, 0.65, 0.9])
def test_an_error_probability_exactly_at_the_confidence_is_confident(confidence):
    """`prm_confident_error` binds at P(error) >= confidence: a step score of exactly
    1 - confidence must count. Catches 1 - score computed in floating point falling a hair
    under the threshold (1 - 0.9 = 0.09999999999999998 < 0.1)."""
    score = round(1 - confidence, 10)
    item = Labeled(1, 3, [-1], [0.99, score, 0.99])
    assert [p.reason for p in reasons_for(item, k=2, confidence=confidence)][:1] == [
        PRM_CONFIDENT_ERROR
    ]
