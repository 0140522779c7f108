"""Answer grading (labeling/grading.py): the shared MATH500 answers, hard pairs, and issue 13's
"Grades that are wrong": never two different answers equal (no numeric tolerance, across
magnitudes), presentation stripped before comparing. The table `CASES` is the one in
docs/formats.md ("Grading final answers"); a test keeps the two in step."""

import json
import re
from itertools import pairwise

import pytest

from labeling.grading import (
    answer_key,
    answers_equivalent,
    extract_answer,
    grade_answer,
    strip_presentation,
)
from tests.conftest import ROOT, SHARED_DATA


def test_every_math500_boxed_solution_grades_equal_to_its_answer():
    failures = []
    records = [json.loads(line) for line in (SHARED_DATA / "math500_test.jsonl").open()]
    for record in records:
        if not grade_answer(record["solution"], record["answer"]):
            failures.append((record["unique_id"], record["answer"]))
    assert failures == []


def test_different_math500_answers_do_not_grade_equal():
    records = [json.loads(line) for line in (SHARED_DATA / "math500_test.jsonl").open()]
    answers = [r["answer"] for r in records]
    wrong = [(a, b) for a, b in pairwise(answers) if a.strip() != b.strip() and grade_answer(a, b)]
    assert len(wrong) <= 1, wrong  # the one known: "5" and "x=5", which math-verify equates


@pytest.mark.parametrize(
    ("given", "reference", "expected"),
    [
        ("\\frac12", "0.5", True),
        ("0.5", "\\frac{1}{2}", True),
        ("(3,5)", "(5,3)", False),
        ("(3,5)", "(3, 5)", True),
        ("\\{1,2\\}", "\\{2,1\\}", True),
        ("[1,2)", "[1,2]", False),
        ("(-\\infty, 3]", "(-\\infty,3]", True),
        ("2\\sqrt{2}", "\\sqrt{8}", True),
        ("7", "8", False),
        ("So the answer is \\boxed{\\frac{3}{4}}.", "0.75", True),
        ("The total is 12.\n\n# Answer\n\n12", "12", True),
        ("", "3", False),
        ("3", "", False),
    ],
)
def test_hard_pairs(given, reference, expected):
    assert grade_answer(given, reference) is expected


def test_extract_answer():
    assert extract_answer("x\n\n# Answer\n\n 42 ") == "42"
    assert extract_answer("so $\\boxed{\\frac{1}{2}}$.") == "\\frac{1}{2}"
    assert extract_answer("17") == "17"


# (given, reference, equal): the documented table (docs/formats.md, "Grading final answers")
CASES = [
    # numbers compare exactly, at every magnitude: no tolerance
    ("3.0000001", "3.0000002", False),
    ("3.0000001", "3.00000010", True),
    ("0.1", "\\frac{1}{10}", True),
    ("1e-20", "2e-20", False),
    ("10^{-30}", "0", False),
    ("1.5 \\times 10^{-3}", "0.0015", True),
    ("100000000000000000000", "100000000000000000001", False),
    ("10^{20}", "100000000000000000000", True),
    ("2^{100}", "2^{100}+1", False),
    ("1.0000000000000001", "1", False),
    ("-0", "0", True),
    ("5", "5.0", True),
    ("1/3", "\\frac{1}{3}", True),
    # a rounded decimal is not the exact value
    ("0.333333", "\\frac13", False),
    ("1.414214", "\\sqrt2", False),
    ("3.14", "\\pi", False),
    ("2.718281828", "e", False),
    ("(3.0000001, 1)", "(3.0000002, 1)", False),
    ("0.5x", "\\frac{x}{2}", True),
    # equations, tuples, sets, intervals
    ("x = 5", "5", True),
    ("x = 5", "y = 5", False),
    ("y = 2x + 1", "y = 2x + 2", False),
    ("x^2 + y^2 = 1", "y^2 + x^2 = 1", True),
    ("2x + 2y = 2", "x + y = 1", True),
    ("(1, 2)", "(2, 1)", False),
    ("\\{1, 2\\}", "\\{2, 1\\}", True),
    ("[1, 2)", "[1, 2]", False),
    # presentation is stripped
    ("*12*", "12", True),
    ("**12**", "12", True),
    ("_12_", "12", True),
    ("`12`", "12", True),
    ("**Answer:** 12", "12", True),
    ("The final answer is $12$.", "12", True),
    ("So $x = 3$ works", "3", True),
    ("\\text{12}", "12", True),
    ("12 \\text{ cm}", "12", True),
    ("12 apples", "12", True),
    ("90^\\circ", "90", True),
    ("\\$12", "12", True),
    ("1,000", "1000", True),
    ("\\boxed{\\dfrac{3}{4}}", "0.75", True),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\frac{\\pi}{2})", True),
    # ... but not what changes the answer
    ("12 x", "12", False),
    ("$12$ and $13$", "13", False),
    ("(1,000)", "1000", False),
    ("1,2", "12", False),
    # text answers: words ignore case, a single letter does not
    ("\\text{Monday}", "monday", True),
    ("\\text{(C)}", "C", True),
    ("B", "b", False),
    ("x", "X", False),
    ("50\\%", "50", True),
]


@pytest.mark.parametrize(("given", "reference", "equal"), CASES)
def test_the_documented_cases(given, reference, equal):
    """3.0000001 vs 3.0000002 and *12* vs 12 are issue 13's examples: the first graded equal
    (math-verify rounds floats to 6 decimals), the second unequal (emphasis not stripped)."""
    assert grade_answer(given, reference) is equal


def test_the_documented_table_is_the_tested_one():
    text = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    table = text.split("## Grading final answers", 1)[1]
    rows = re.findall(r"^\| `` (.+?) `` \| `` (.+?) `` \| (same|different) \|$", table, re.M)
    documented = [(g.replace("\\|", "|"), r, v == "same") for g, r, v in rows]
    assert documented == [(g, r, e) for g, r, e in CASES]


@pytest.mark.parametrize("exponent", [-300, -40, -20, -7, -1, 0, 1, 7, 20, 40, 300])
def test_numbers_one_unit_apart_in_the_last_digit_differ_at_every_magnitude(exponent):
    base = "1.000000000000000000001"
    close = "1.000000000000000000002"
    assert grade_answer(f"{base}e{exponent}", f"{base}e{exponent}")
    assert not grade_answer(f"{base}e{exponent}", f"{close}e{exponent}")
    assert not grade_answer(f"{base} \\times 10^{{{exponent}}}", f"{close}e{exponent}")


def test_answers_equivalent_is_symmetric_and_groups_forms_of_one_value():
    forms = ["0.5", "\\frac12", "1/2", "$\\frac{1}{2}$", "**0.50**", "The answer is 0.5."]
    for a in forms:
        for b in forms:
            assert answers_equivalent(a, b), (a, b)
    assert len({answer_key(a) for a in forms}) == 1
    assert not answers_equivalent("0.5", "0.50001")
    assert answers_equivalent("x = 5", "5")  # an assignment is its value, both ways
    assert not answers_equivalent("x = 5", "y = 5") and not answers_equivalent("5", "x = 6")
    assert answers_equivalent("\\sqrt{8}", "2\\sqrt{2}") and answer_key("\\sqrt8") != answer_key(
        "2\\sqrt2"
    )


def test_strip_presentation_leaves_the_answer():
    assert strip_presentation("**$\\boxed{12}$**.") == "12"
    assert strip_presentation("Final answer: \\textbf{(B)}") == "B"
    assert strip_presentation("\\begin{pmatrix}-1/3\\2/3\\end{pmatrix}") == (
        "\\begin{pmatrix}-1/3\\\\2/3\\end{pmatrix}"
    )  # a matrix whose row breaks lost a backslash (the verl copy of MATH)


# ProcessBench labels that ask for a form, not a value: the answers are equal, the experts
# judged the solution wrong (an unreduced fraction, a decimal for a fraction, a ratio)
PROCESSBENCH_FORM_LABELS = [
    ("7", "7"),
    ("\\frac{411}{333}", "\\frac{137}{111}"),
    ("\\frac{23}{2}", "11.5"),
    ("-\\frac{58}{87}", "-\\frac{2}{3}"),
    ("10.5\\pi", "\\frac{21}{2}\\pi"),
    ("\\frac{1}{2}", "1:2"),
]


def test_agreement_with_processbench_expert_judgements():
    """ProcessBench's `final_answer_correct` on its first 300 MATH solutions (references from
    MATH's test set): the grader agrees on every one but six labels that ask for a form where
    the values are equal; it never grades unequal an answer the experts accepted (the earlier
    grader missed matrices whose reference copy lost its row breaks)."""
    import pyarrow.parquet as pq

    from labeling.answers import final_answer
    from labeling.services.problems import strip_prompt_suffix

    references = {
        strip_prompt_suffix(row["reward_model"]["ground_truth"]["question"]): row["reward_model"][
            "ground_truth"
        ]["target"]
        for row in pq.read_table(SHARED_DATA / "math_test.parquet").to_pylist()
    }
    pool = json.loads((SHARED_DATA / "processbench_math.json").read_text())[:300]
    disagree = []
    for record in pool:
        reference, answer = references.get(record["problem"]), final_answer(record["steps"])
        if reference is None or answer is None:
            continue
        if grade_answer(answer, reference) != record["final_answer_correct"]:
            assert not record["final_answer_correct"], (answer, reference)
            disagree.append((answer, reference))
    assert disagree == PROCESSBENCH_FORM_LABELS
