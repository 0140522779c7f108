"""The endings that need a reason (give_up, bad_problem) are checked by one rule
(rating_rules.check_ending_reason) in both phases' check_submit."""

import pytest

from labeling import phase1_rules, rating_rules
from labeling.rating_rules import MAX_REASON_LENGTH, DraftError

SUBMITS = {
    "phase 2": lambda kind, reason: rating_rules.check_submit([], 3, kind, reason),
    "phase 1": lambda kind, reason: phase1_rules.check_submit([], kind, reason),
}


@pytest.mark.parametrize("phase", SUBMITS)
@pytest.mark.parametrize("kind", ["give_up", "bad_problem"])
def test_both_phases_clean_and_refuse_a_reason_alike(phase, kind):
    """Would catch one phase accepting an empty or over-long reason, or wording its refusal
    differently, from the other (each used to carry its own copy of the rule)."""
    submit = SUBMITS[phase]
    assert submit(kind, "  too hard \n") == "too hard"
    with pytest.raises(DraftError, match=f"reason: {kind} needs a short reason"):
        submit(kind, "   ")
    with pytest.raises(DraftError, match=f"reason: at most {MAX_REASON_LENGTH} characters"):
        submit(kind, "x" * (MAX_REASON_LENGTH + 1))
