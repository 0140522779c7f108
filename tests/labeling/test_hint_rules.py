"""The pure rules of model-assisted labeling (labeling/hint_rules.py)."""

import hashlib

import pytest

from labeling import hint_rules


def test_first_error_is_the_first_step_below_the_threshold_with_its_error_probability():
    """Catches an off-by-one, a `<=` for `<`, or the step score reported instead of
    P(error): scores [0.9, 0.5, 0.2] have no step below 0.5 until index 2."""
    assert hint_rules.first_error_hint([0.9, 0.5, 0.2, 0.1]) == (2, pytest.approx(0.8))
    assert hint_rules.first_error_hint([0.9, 0.49]) == (1, pytest.approx(0.51))


def test_no_step_below_the_threshold_means_no_error():
    assert hint_rules.first_error_hint([0.9, 0.5]) == (hint_rules.NO_ERROR, None)
    assert hint_rules.first_error_hint([]) == (hint_rules.NO_ERROR, None)


@pytest.mark.parametrize("bad", [[0.2, 1.5], [0.3, None], [-0.1]])
def test_a_score_that_is_not_a_probability_is_refused_naming_its_index(bad):
    with pytest.raises(ValueError, match=r"step_scores\[\d\]"):
        hint_rules.first_error_hint(bad)


def test_the_arm_is_a_fixed_function_of_the_task():
    """Catches a random draw (the arm must be reproducible from the recorded task) and a
    draw that ignores the annotator or the solution."""
    draw = hint_rules.arm_draw(3, 7, 11)
    digest = hashlib.sha256(b"3:7:11").digest()
    assert draw == int.from_bytes(digest[:8], "big") / 2.0**64
    assert draw == hint_rules.arm_draw(3, 7, 11)
    assert draw != hint_rules.arm_draw(3, 8, 11) and draw != hint_rules.arm_draw(3, 7, 12)


def test_the_unhinted_share_is_respected_within_sampling_error():
    """Over 4,000 tasks a 20% share gives 800 +- 4 standard deviations (sd = 25.3); share 0
    and 1 are exact. Catches a comparison the wrong way round (80% unhinted)."""
    arms = [
        hint_rules.hint_arm(project_id=1, user_id=u, solution_id=s, unhinted_share=0.2)
        for u in range(40)
        for s in range(100)
    ]
    assert abs(arms.count(hint_rules.UNHINTED) - 800) < 4 * 25.3
    for share, arm in ((0.0, hint_rules.HINTED), (1.0, hint_rules.UNHINTED)):
        assert {
            hint_rules.hint_arm(project_id=1, user_id=1, solution_id=s, unhinted_share=share)
            for s in range(200)
        } == {arm}


def test_a_share_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match="unhinted_share"):
        hint_rules.hint_arm(project_id=1, user_id=1, solution_id=1, unhinted_share=1.2)
