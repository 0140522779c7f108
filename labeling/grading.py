"""Grading a final answer against the reference answer (no Django): equal values, never a near
miss.

The rules (docs/formats.md, "Grading final answers", has the table of cases):

1. **The answer is extracted**: a PRM800K `# Answer` block, else the last `\\boxed{...}`, else
   the whole text.
2. **Presentation is stripped**: surrounding prose ("The final answer is", "Answer:"), Markdown
   emphasis and code (`*12*`, `**12**`, `_12_`, `` `12` ``), math delimiters (`$...$`,
   `\\(...\\)`, `\\[...\\]`), a wrapping `\\text{}` / `\\textbf{}` / `\\mathrm{}` / `\\boxed{}`,
   `\\displaystyle`, `\\left` / `\\right`, thin spaces, a trailing full stop, a dollar sign before
   a number, degrees (`^\\circ`), the thousands commas of a single number (`1,000`), and unit
   words after a number (`12 \\text{ cm}`, `12 apples`).
3. **Plain numbers compare exactly** as rationals: integers, decimals, fractions
   (`3/4`, `\\frac{3}{4}`, `\\dfrac34`), scientific notation (`1.5e-3`, `1.5 \\times 10^{-3}`).
   There is no numeric tolerance: `3.0000001` is not `3.0000002`, `10^{-20}` is not `2 \\cdot
   10^{-20}`, and a rounded decimal is not the exact value (`0.333` is not `1/3`, `1.414214` is
   not `\\sqrt{2}`): a MATH or PRM800K reference is written in the form its problem asks for, so
   an answer in another form that is only close is a different answer.
4. **Everything else compares symbolically** with `math-verify` (Hugging Face): both sides are
   parsed to sympy and compared as expressions, equations, sets, intervals and tuples. Its
   numeric comparison rounds floats to 6 decimals, so every decimal literal is first rewritten
   as the exact fraction it denotes (`0.25` -> `\\frac{25}{100}`): then `(3.0000001, 1)` is not
   `(3.0000002, 1)`, and `0.5x` still equals `\\frac{x}{2}`.
5. **Text answers** (`\\text{Monday}`) compare as text, ignoring case for words of two letters
   or more; a single letter keeps its case (`X` is not `x`).

`grade_answer(given, reference)` follows `math-verify`'s asymmetric reading (the reference decides
how an equation is read: `x = 5` matches a reference of `5`); `answers_equivalent(a, b)` is the
symmetric relation for grouping candidate answers (best-of-N "by the grader's equivalence"),
with `answer_key(a)` a canonical text for a fast first grouping (equal keys are equivalent
answers; different keys may still be). math-verify's timeouts are signal based: they work in the
main thread of a process (Celery's prefork children, management commands), not in threads.
"""

import logging
import re
from fractions import Fraction
from functools import lru_cache

from labeling.answers import last_boxed
from labeling.prm800k import ANSWER_MARKER

logger = logging.getLogger(__name__)

PARSE_TIMEOUT_SECONDS = 5
VERIFY_TIMEOUT_SECONDS = 5
CACHE_SIZE = 1 << 16  # graded (answer, reference) pairs kept per process: pools repeat answers

# --- extraction and presentation --------------------------------------------------------------

_PROSE = re.compile(
    r"^(?:(?:so|thus|hence|therefore|then)\b,?\s*)?(?:the\s+)?(?:final\s+)?"
    r"(?:answer|result)\b\s*(?:is\b|:|=)?\s*",
    re.IGNORECASE,
)
_MARKDOWN = re.compile(r"^(\*{1,3}|_{1,3}|`{1,3})(.+)\1$", re.DOTALL)
_DELIMITERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_WRAPPERS = re.compile(
    r"^\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|boxed|fbox|mbox)\s*\{(.*)\}$",
    re.DOTALL,
)
_SPACING = re.compile(r"(?<!\\)\\[,;:! ]|\\(?:quad|qquad)\b|~")  # not a row break
_LEFT_RIGHT = re.compile(r"\\(?:left|right)(?=[^a-zA-Z])")
_DEGREES = re.compile(r"\s*(?:\^\s*\{?\s*\\circ\s*\}?|°)")
_DOLLAR = re.compile(r"^\\\$\s*(?=[-\d.])")  # currency: `\$12` (a bare `$12` is money only alone)
_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
# a number followed by unit words: `12 \text{ cm}`, `12 apples`, `12 square units`
_UNITS = re.compile(
    r"^(?P<number>[-+]?[\d.,]+)\s*(?:\\(?:text|mbox|mathrm)\s*\{\s*[a-zA-Z][a-zA-Z\s.]*\}"
    r"|[a-zA-Z]{2,}(?:\s+[a-zA-Z]{2,})*)$"
)
_MULTIPLE_CHOICE = re.compile(r"^\(\s*([A-Z])\s*\)$")
# a matrix whose row separators lost a backslash (`\begin{pmatrix}1\2\end{pmatrix}`, as in
# the verl copy of MATH): a backslash before a digit, a sign or a dot is a row break
_MATRIX = re.compile(r"\\begin\{([pbvBV]?matrix)\}(.*?)\\end\{\1\}", re.DOTALL)
_LOST_ROW_BREAK = re.compile(r"(?<!\\)\\(?=\s*[-+\d.(])")


def extract_answer(text: str) -> str:
    """The answer part of a solution text: its `# Answer` block, else its last boxed
    expression, else the text itself; with its presentation stripped (`strip_presentation`)."""
    at = text.rfind(ANSWER_MARKER)
    if at >= 0:
        answer = text[at + len(ANSWER_MARKER) :]
    else:
        boxed = last_boxed(text)
        answer = boxed if boxed is not None else text
    return strip_presentation(answer)


def _unwrap_delimiters(text: str) -> str:
    for start, end in _DELIMITERS:
        if text.startswith(start) and text.endswith(end) and len(text) > len(start) + len(end):
            inner = text[len(start) : -len(end)]
            if start != "$" or "$" not in inner:  # `$a$ and $b$` is not one expression
                return inner.strip()
    return text


def _only_math(text: str) -> str | None:
    """The one `$...$` segment of a text that mixes prose and math ("so $x = 3$ works"); None
    when there are several: `$12$ and $13$` is not the answer 13."""
    segments = re.findall(r"\$([^$]+)\$", text)
    return segments[0].strip() if len(segments) == 1 and text.count("$") == 2 else None


def strip_presentation(answer: str) -> str:
    """The answer without what only presents it (rule 2 of the module docstring)."""
    text = answer.strip()
    for _ in range(10):  # wrappers nest (`**$\boxed{12}$**`); each round peels one layer
        before = text
        text = text.strip()
        match = _MARKDOWN.match(text)
        if match:
            text = match.group(2).strip()
        text = _PROSE.sub("", text, count=1)
        text = text.rstrip(".!;").rstrip() if not re.search(r"\d\.$", text) else text[:-1]
        text = _unwrap_delimiters(text)
        if "$" in text:
            math = _only_math(text)
            if math is not None:
                text = math
        match = _WRAPPERS.match(text)
        if match and _balanced(match.group(1)):
            text = match.group(1).strip()
        text = text.removeprefix("\\displaystyle").strip()
        if text == before:
            break
    text = _SPACING.sub(" ", text)
    text = _LEFT_RIGHT.sub("", text)
    text = _DEGREES.sub("", text)
    text = _DOLLAR.sub("", text)
    if text.count("$") == 1 and re.match(r"^\$\s*[-\d.]", text):
        text = text[1:].lstrip()
    text = " ".join(text.split())
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    match = _UNITS.match(text)
    if match and _number(match.group("number")) is not None:
        text = match.group("number")
    match = _MULTIPLE_CHOICE.match(text)
    if match:
        text = match.group(1)
    if "matrix}" in text:
        text = _MATRIX.sub(
            lambda m: (
                f"\\begin{{{m.group(1)}}}"
                + _LOST_ROW_BREAK.sub(r"\\\\", m.group(2))
                + f"\\end{{{m.group(1)}}}"
            ),
            text,
        )
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


# --- plain numbers: exact -----------------------------------------------------------------------

_DECIMAL = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_SCIENTIFIC = re.compile(
    rf"^(?P<mantissa>{_DECIMAL})\s*(?:[eE](?P<e>[-+]?\d+)"
    r"|(?:\\times|\\cdot|\*|x)\s*10\s*\^\s*\{?\s*(?P<p>[-+]?\d+)\s*\}?)?$"
)
_FRACTION = re.compile(
    rf"^(?P<sign>[-+]?)\s*\\[dt]?frac\s*(?:\{{\s*(?P<n>{_DECIMAL})\s*\}}|(?P<n1>\d))"
    rf"\s*(?:\{{\s*(?P<d>{_DECIMAL})\s*\}}|(?P<d1>\d))$"
)
_SLASH = re.compile(rf"^(?P<n>{_DECIMAL})\s*/\s*(?P<d>{_DECIMAL})$")
_POWER_OF_TEN = re.compile(r"^10\s*\^\s*\{?\s*(?P<p>[-+]?\d+)\s*\}?$")
MAX_EXPONENT = 10_000  # 10^10000 is exact in Python; beyond, leave it to the symbolic path


def _number(text: str) -> Fraction | None:
    """The exact value of a plain number (rule 3), or None when `text` is not one."""
    text = text.strip()
    while text.startswith("{") and text.endswith("}") and _balanced(text[1:-1]):
        text = text[1:-1].strip()  # `{12}`
    match = _SCIENTIFIC.match(text)
    if match:
        exponent = match.group("e") or match.group("p")
        if exponent is not None and abs(int(exponent)) > MAX_EXPONENT:
            return None
        value = Fraction(match.group("mantissa"))
        return value * Fraction(10) ** int(exponent) if exponent else value
    match = _POWER_OF_TEN.match(text)
    if match and abs(int(match.group("p"))) <= MAX_EXPONENT:
        return Fraction(10) ** int(match.group("p"))
    match = _FRACTION.match(text)
    if match:
        numerator = Fraction(match.group("n") or match.group("n1"))
        denominator = Fraction(match.group("d") or match.group("d1"))
        if denominator == 0:
            return None
        value = numerator / denominator
        return -value if match.group("sign") == "-" else value
    match = _SLASH.match(text)
    if match:
        denominator = Fraction(match.group("d"))
        return None if denominator == 0 else Fraction(match.group("n")) / denominator
    return None


# a decimal literal, not one written in another base (`0.0011_2`)
_DECIMAL_LITERAL = re.compile(r"(?<![\d.])(\d*)\.(\d+)(?![\d.]|\s*_)")


def exact_decimals(text: str) -> str:
    """Every decimal literal as the fraction it denotes (`0.25` -> `\\frac{25}{100}`), so that
    the symbolic comparison never rounds."""
    return _DECIMAL_LITERAL.sub(
        lambda m: f"\\frac{{{int(m.group(1) + m.group(2))}}}{{{10 ** len(m.group(2))}}}", text
    )


# --- comparing ------------------------------------------------------------------------------


def _is_word(text: str) -> bool:
    return len(text) >= 2 and text.replace(" ", "").isalpha()


def _as_math(answer: str) -> str:
    # math-verify reads LaTeX inside math delimiters; bare MATH-style answers have none (an
    # answer that still holds several `$...$` is left for math-verify to read as text)
    return answer if "$" in answer else f"${answer}$"


@lru_cache(maxsize=CACHE_SIZE)
def _grade(given: str, reference: str) -> bool:
    """`given` against `reference`, both already extracted and stripped."""
    if given == reference:
        return True
    if _is_word(given) and _is_word(reference):
        return given.casefold() == reference.casefold()
    if given.casefold() == reference.casefold() and (given.isalpha() or reference.isalpha()):
        return False  # a single letter keeps its case: X is not x
    if given.count("$") >= 4:  # several math segments ("$12$ and $13$"): each must be it
        segments = re.findall(r"\$([^$]+)\$", given)
        return all(_grade(strip_presentation(part), reference) for part in segments)
    exact_given, exact_reference = _number(given), _number(reference)
    if exact_given is not None and exact_reference is not None:
        return exact_given == exact_reference
    from math_verify import parse, verify  # sympy: imported on first use, not at start-up

    gold = parse(_as_math(exact_decimals(reference)), parsing_timeout=PARSE_TIMEOUT_SECONDS)
    target = parse(_as_math(exact_decimals(given)), parsing_timeout=PARSE_TIMEOUT_SECONDS)
    if not gold or not target:
        return " ".join(given.split()) == " ".join(reference.split())
    return bool(verify(gold, target, timeout_seconds=VERIFY_TIMEOUT_SECONDS))


def grade_answer(given: str, reference: str) -> bool:
    """True when the answer in `given` (a bare answer, a text with `\\boxed{}`, or a PRM800K
    `# Answer` block) equals the reference answer, under the rules of this module. False for
    an empty side. May raise on a pathological expression (a math-verify timeout): callers
    treat that as "could not grade", never as wrong."""
    if not given or not given.strip() or not reference or not reference.strip():
        return False
    given, reference = extract_answer(given), extract_answer(reference)
    if not given or not reference:
        return False
    return _grade(given, reference)


def answer_key(answer: str) -> str:
    """A canonical text of an answer: equal keys are equivalent answers (a fast first grouping
    before `answers_equivalent`). Plain numbers become their exact value (`0.5`, `1/2` and
    `\\frac{1}{2}` all give `1/2`); anything else its stripped text without spaces."""
    text = extract_answer(answer)
    value = _number(text)
    if value is not None:
        return str(value)
    if _is_word(text):
        return text.casefold()
    return "".join(text.split())


def answers_equivalent(first: str, second: str) -> bool:
    """Whether two candidate answers are the same answer: each grades equal taking the other as
    the reference (symmetric; reflexive for any non-empty answer). For grouping best-of-N
    candidates by answer; pure, main thread only (see the module docstring)."""
    if answer_key(first) == answer_key(second) and answer_key(first):
        return True
    return grade_answer(first, second) and grade_answer(second, first)


def grade_pair(pair: tuple[str, str]) -> bool | None:
    """`grade_answer(*pair)`, or None when the grader raised (a parser failure, a timeout):
    unknown, never wrong. A plain function of this Django-free module, so that a pool of
    processes started fresh (`spawn`) can run it."""
    try:
        return grade_answer(*pair)
    except Exception:
        logger.warning("could not grade %r against %r", *pair, exc_info=True)
        return None
