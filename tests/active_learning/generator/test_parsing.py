"""Step parsing and final-answer extraction on real model outputs (ProcessBench's solutions,
joined back into the raw text their generators wrote) and on PRM800K's `# Answer` layout."""

import json
from pathlib import Path

import pytest

from active_learning.generator.parsing import (
    NO_ANSWER,
    NO_STEPS,
    OK,
    first_step,
    minerva_answer,
    parse_solution,
    split_steps,
)
from labeling.answers import last_boxed
from labeling.grading import grade_answer

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = json.loads((FIXTURES / "processbench_sample.json").read_text())


@pytest.mark.parametrize("item", SAMPLES, ids=[s["id"] for s in SAMPLES])
def test_processbench_raw_text_splits_back_into_its_steps(item):
    """ProcessBench's steps are its generators' paragraphs: joining them with a blank line
    gives the raw text, and parsing gives the same steps back (catches a splitter that breaks
    steps at single line breaks, inside display math, or drops text)."""
    parsed = parse_solution("\n\n".join(item["steps"]))
    assert parsed.steps == [s.strip() for s in item["steps"]]


@pytest.mark.parametrize("item", SAMPLES, ids=[s["id"] for s in SAMPLES])
def test_processbench_answers_are_the_last_box_or_the_minerva_sentence(item):
    """The answer is the last \\boxed{} anywhere in the solution, else the Minerva "The final
    answer is X" sentence; a solution with neither is NO_ANSWER, not a crash (math-687 ends
    "Alice ran 108 meters." and has no marked answer)."""
    text = "\n\n".join(item["steps"])
    parsed = parse_solution(text)
    boxes = [b for b in (last_boxed(s) for s in item["steps"]) if b is not None]
    if boxes:
        assert parsed.final_answer == boxes[-1].strip()
        assert parsed.status == OK
    elif "final answer is" in item["steps"][-1].lower():
        assert parsed.final_answer == minerva_answer(item["steps"][-1])
        assert parsed.status == OK
    else:
        assert parsed.final_answer is None
        assert parsed.status == NO_ANSWER


def test_extracted_answers_grade_as_processbench_says():
    """Extraction plus the project's grader (math-verify) agree with ProcessBench's own
    `final_answer_correct` on every MATH sample with an answer (catches an extractor that
    keeps `$`, a trailing full stop or the box around the answer: math-447's
    "0.00000672." against 0.0000672 is wrong, math-724's "12." right)."""
    checked = 0
    for item in SAMPLES:
        reference = item.get("reference_answer")
        parsed = parse_solution("\n\n".join(item["steps"]))
        if reference is None or parsed.final_answer is None:
            continue
        assert grade_answer(parsed.final_answer, reference) == item["final_answer_correct"], item[
            "id"
        ]
        checked += 1
    assert checked >= 6


def test_prm800k_answer_block_becomes_the_last_step():
    """PRM800K ends a solution with '# Answer', a blank line and the answer, stored as the
    step '# Answer\\n\\n<answer>'; what the model writes after the answer line is dropped
    (catches a parser that keeps the rambling or loses the answer step)."""
    text = (
        "I need to add 2 and 3.\n\n2 + 3 = 5.\n\n# Answer\n\n5\n\nProblem: what is 1+1?\n\n"
        "The answer is 2."
    )
    parsed = parse_solution(text)
    assert parsed.steps == ["I need to add 2 and 3.", "2 + 3 = 5.", "# Answer\n\n5"]
    assert parsed.final_answer == "5"
    assert parsed.status == OK


def test_answer_block_with_a_box_keeps_the_boxed_contents():
    parsed = parse_solution("So x = 4.\n\n# Answer\n\n\\boxed{4}")
    assert parsed.final_answer == "4"
    assert parsed.steps[-1] == "# Answer\n\n4"


def test_empty_answer_block_is_no_answer():
    """'# Answer' with nothing after it: the steps are kept, the answer is missing."""
    parsed = parse_solution("Step one.\n\n# Answer\n\n")
    assert parsed.steps == ["Step one."]
    assert parsed.final_answer is None
    assert parsed.status == NO_ANSWER


@pytest.mark.parametrize("text", ["", "   \n\n \n", "\x00\x01\x02", "\nProblem: next"])
def test_text_without_steps_is_no_steps(text):
    """Blank text, control characters only, or a stop string at once: NO_STEPS, no error."""
    parsed = parse_solution(text, stop=("\nProblem:",))
    assert parsed.status == NO_STEPS
    assert parsed.steps == []
    assert parsed.final_answer is None


def test_unstorable_characters_are_removed_and_noted():
    """NUL and other control characters (PostgreSQL refuses NUL in jsonb) never reach a step,
    and CR LF paragraphs still split."""
    parsed = parse_solution("a\x00b\r\n\r\nc \\boxed{1}")
    assert parsed.steps == ["ab", "c \\boxed{1}"]
    assert parsed.notes == ["removed 1 control character(s)"]


def test_stop_string_cuts_the_solution():
    parsed = parse_solution(
        "x = 1.\n\n\\boxed{1}\nProblem: 2+2?\n\n\\boxed{4}", stop=["\nProblem:"]
    )
    assert parsed.final_answer == "1"
    assert parsed.stopped


def test_custom_separator():
    assert parse_solution("a\nb\n\\boxed{2}", separator="\n").steps == ["a", "b", "\\boxed{2}"]
    with pytest.raises(ValueError):
        split_steps("a", "")


def test_first_step_of_a_continuation():
    assert first_step("  Next, 2x = 4.\n\nSo x = 2.") == "Next, 2x = 4."
    assert first_step("\n\n") is None


@pytest.mark.parametrize(
    ("step", "answer"),
    [
        ("Final Answer: The final answer is $0.00000672$. I hope it is correct.", "0.00000672"),
        ("The final answer is 12. I hope it is correct.", "12"),
        ("So the final answer is 3.5", "3.5"),
        (
            "The final answer is 4 | 4/12, which is a fraction\nwith a denominator of 3",
            "4 | 4/12, which is a fraction",
        ),
        ("The final answer is", None),
        ("No sentence here.", None),
    ],
)
def test_minerva_answer_ends_with_its_sentence(step, answer):
    """The answer stops at the sentence's full stop or the line's end, not at a decimal point
    (catches an extractor that swallows the rest of the step, as a SmolLM2 sample showed)."""
    assert minerva_answer(step) == answer


def test_a_repeated_answer_line_is_not_the_answer():
    """A model that writes '# Answer' twice (a blank line between) gave the answer on the
    next line that is not another answer line (catches a final answer of '# Answer')."""
    parsed = parse_solution("2 + 3 = 5.\n\n# Answer\n\n# Answer\n\n5")
    assert parsed.final_answer == "5"
    assert parsed.steps == ["2 + 3 = 5.", "# Answer\n\n5"]
    assert parse_solution("x.\n\n# Answer\n\n# Answer").status == NO_ANSWER


def test_a_long_run_of_spaces_after_the_minerva_sentence_is_read_in_linear_time():
    """Degenerate models write long runs of spaces; the Minerva pattern backtracked over them
    quadratically (20,000 spaces took seconds, 300,000 would hold a worker for most of an
    hour). Catches a pattern that is not linear: the old one does not finish this test."""
    step = "The final answer is 5" + " " * 300_000 + "x. I hope it is correct."
    assert minerva_answer(step) == "5" + " " * 300_000 + "x"
    parsed = parse_solution("Step one.\n\n" + step[:90_000])
    assert parsed.status == OK and parsed.final_answer.startswith("5")


def test_a_step_longer_than_a_stored_text_may_be_ends_the_solution_before_it():
    """A runaway step (300,000 characters without a blank line) is longer than any text the
    platform imports (IMPORT_MAX_TEXT_CHARS, 100,000 by default), so the solution could be
    exported but never imported back: the solution is cut before that step, and the note says
    so (catches a stored step over the limit)."""
    parsed = parse_solution("First.\n\nSecond \\boxed{2}.\n\n" + "x" * 300_000 + "\n\nLast.")
    assert parsed.steps == ["First.", "Second \\boxed{2}."]
    assert parsed.final_answer == "2" and parsed.status == OK
    assert any("300,000 characters" in note for note in parsed.notes)
    only = parse_solution("y" * 300_000, max_step_chars=1000)
    assert only.status == NO_STEPS and only.steps == [] and only.final_answer is None


def test_a_solution_cut_at_the_step_limit_takes_its_answer_from_the_steps_kept():
    """Cut to MAX_STEPS, the stored steps no longer hold the answer block, so the solution
    has no final answer (catches a final answer that no stored step shows)."""
    parsed = parse_solution("a\n\n" * 1200 + "# Answer\n\n7")
    assert len(parsed.steps) == 1000 and parsed.final_answer is None
    assert parsed.status == NO_ANSWER
