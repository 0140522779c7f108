"""Grading a final answer against the reference answer by symbolic equivalence (no Django).

`math-verify` (Hugging Face) parses both sides to sympy and compares them: `\\frac12` equals
`0.5`, an ordered pair keeps its order, sets and intervals compare as such. Its timeouts are
signal based, so they work in the main thread of a process (Celery's prefork children; not in
threads), which keeps one pathological expression from hanging a worker.

`given` may be a bare answer, text containing `\\boxed{...}`, or a PRM800K `# Answer` block.
"""

from math_verify import parse, verify

from labeling.answers import last_boxed
from labeling.prm800k import ANSWER_MARKER

PARSE_TIMEOUT_SECONDS = 5
VERIFY_TIMEOUT_SECONDS = 5


def extract_answer(text: str) -> str:
    """The answer part of a solution text: its `# Answer` block, else its last boxed
    expression, else the text itself."""
    at = text.rfind(ANSWER_MARKER)
    if at >= 0:
        return text[at + len(ANSWER_MARKER) :].strip()
    boxed = last_boxed(text)
    return boxed.strip() if boxed is not None else text.strip()


def _as_math(answer: str) -> str:
    # math-verify reads LaTeX inside math delimiters; bare MATH-style answers have none
    answer = answer.strip()
    if answer.startswith("$") or answer.startswith("\\(") or answer.startswith("\\["):
        return answer
    return f"${answer}$"


def grade_answer(given: str, reference: str) -> bool:
    """True when `given` is mathematically equivalent to `reference`."""
    if not given or not given.strip() or not reference or not reference.strip():
        return False
    gold = parse(_as_math(extract_answer(reference)), parsing_timeout=PARSE_TIMEOUT_SECONDS)
    target = parse(_as_math(extract_answer(given)), parsing_timeout=PARSE_TIMEOUT_SECONDS)
    if not gold or not target:
        return extract_answer(given).strip() == extract_answer(reference).strip()
    return bool(verify(gold, target, timeout_seconds=VERIFY_TIMEOUT_SECONDS))
