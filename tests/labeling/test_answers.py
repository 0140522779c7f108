"""Final answers in solution text (labeling/answers.py)."""

import pytest

from labeling.answers import final_answer, last_boxed


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("so $\\boxed{\\frac{1}{\\sqrt{2}}}$.", "\\frac{1}{\\sqrt{2}}"),
        ("first \\boxed{1}, then \\fbox{2}", "2"),
        ("unbalanced \\boxed{3", None),
        # MATH's `\boxed 5` (no braces): the text after the space, up to the closing `$`
        ("so $\\boxed 5$ and then {x} follows", "5"),
        ("\\boxed 12", "12"),
        ("\\boxed\n{7}", "7"),
        ("no box here {x}", None),
    ],
)
def test_last_boxed(text, answer):
    """Catches a box without braces read as the next brace group anywhere after it (`\\boxed 5`
    followed by `{x}` gave "x", a wrong final answer graded as the solution's)."""
    assert last_boxed(text) == answer


def test_final_answer_prefers_the_answer_block():
    assert final_answer(["x = 2.", "# Answer\n\n2"]) == "2"
    assert final_answer(["$\\boxed 4$ and {y}"]) == "4"
