"""Raw generator text -> steps and a final answer (no Django, no torch).

Two answer conventions are recognised, as in the data this platform labels:

- PRM800K's: the solution ends with a line `# Answer`, a blank line and the answer; the release
  stores that ending as the last step, `"# Answer\\n\\n<answer>"` (labeling.prm800k.ANSWER_MARKER;
  ../shared/PRM800K-FORMAT.md). Anything the model writes after the answer line is dropped (it
  has finished the solution and started rambling).
- MATH's: the last `\\boxed{...}` in the text (labeling.answers.last_boxed), as in the
  ProcessBench solutions (Qwen2.5 / Llama instruct models prompted for a boxed answer);
- Minerva's (Lewkowycz et al. 2022, the few-shot MATH prompt Llama 3's evaluations use), when
  there is no box: the last step says "The final answer is <answer>. I hope it is correct."

Steps are the text split at a separator (a blank line by default, PRM800K's and ProcessBench's
step layout), each stripped, empty ones dropped. Characters the platform never stores (control
characters but tab and line feed, bidi controls, lone surrogates: labeling.text_policy) are
removed first, so a model that emits them cannot make a write fail.
"""

import re
from dataclasses import dataclass, field

from labeling.answers import final_answer as answer_of_steps
from labeling.answers import last_boxed
from labeling.prm800k import ANSWER_MARKER
from labeling.text_policy import REFUSED_CODE_POINTS, ImportLimits

OK = "ok"
NO_STEPS = "no_steps"  # nothing but whitespace (or a stop string at once)
NO_ANSWER = "no_answer"  # steps, but neither a `# Answer` line nor a \boxed{}
STATUSES = (OK, NO_STEPS, NO_ANSWER)

# The platform's text policy (labeling.text_policy.REFUSED_CODE_POINTS): no Cc character but
# \t \n \r, no bidi control, no surrogate.
# \r goes too: CR LF becomes LF so that a blank line is "\n\n" whatever the model wrote.
_UNSTORABLE = re.compile(
    "[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in REFUSED_CODE_POINTS) + "]"
)
_ANSWER_LINE = re.compile(r"^[ \t]*#[ \t]*Answer[ \t]*:?[ \t]*$", re.MULTILINE | re.IGNORECASE)
# "The final answer is X." up to the sentence's end: a full stop before a space or the end (not
# a decimal point), or the end of the line. Two linear patterns, not one: a lazy answer followed
# by optional spaces backtracks quadratically over a long run of spaces.
_MINERVA = re.compile(r"final answer is:?[ \t]*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"\.(?=\s|$)")
# a solution longer than this many steps is cut (labeling.text_policy.ImportLimits.max_steps)
MAX_STEPS = 1000
# a solution is cut before a longer step: no text longer than this is imported
# (labeling.text_policy.ImportLimits.max_text_chars, setting IMPORT_MAX_TEXT_CHARS), so a
# longer one could be exported but never imported back
MAX_STEP_CHARS = ImportLimits().max_text_chars


@dataclass(frozen=True)
class ParsedSolution:
    """`steps`: the solution's steps in order (PRM800K layout: the last is `# Answer\\n\\n<a>`
    when the model used that convention); `final_answer`: the answer text or None; `status`:
    one of STATUSES; `stopped`: the text was cut at a stop string; `notes`: what was cleaned."""

    steps: list[str]
    final_answer: str | None
    status: str
    stopped: bool = False
    notes: list[str] = field(default_factory=list)


def clean(text: str) -> tuple[str, list[str]]:
    """`text` with CR LF as LF and unstorable characters removed, and notes saying so."""
    notes = []
    text = text.replace("\r\n", "\n")
    cleaned = _UNSTORABLE.sub("", text)
    if len(cleaned) != len(text):
        notes.append(f"removed {len(text) - len(cleaned)} control character(s)")
    return cleaned, notes


def split_steps(text: str, separator: str = "\n\n") -> list[str]:
    """Non-empty stripped pieces of `text` between `separator`s. ValueError for an empty
    separator."""
    if not separator:
        raise ValueError("the step separator must not be empty")
    return [piece.strip() for piece in text.split(separator) if piece.strip()]


def parse_solution(
    text: str,
    *,
    separator: str = "\n\n",
    stop: tuple[str, ...] | list[str] = (),
    max_step_chars: int = MAX_STEP_CHARS,
) -> ParsedSolution:
    """Parse a generated solution (the model's continuation only, special tokens removed).

    `stop`: strings that end the solution where they first occur (e.g. "\\nProblem:" when a
    model goes on to invent the next problem). A solution is cut to MAX_STEPS steps, and before
    its first step longer than `max_step_chars` characters (a note says so; the answer is then
    taken from the steps kept). Never raises for any text; a text with no steps or no answer
    comes back with status NO_STEPS / NO_ANSWER."""
    text, notes = clean(text)
    stopped = False
    for marker in stop:
        at = text.find(marker) if marker else -1
        if at >= 0:
            text, stopped = text[:at], True
    answer_line = _ANSWER_LINE.search(text)
    if answer_line:
        steps = split_steps(text[: answer_line.start()], separator)
        answer = _answer_after(text[answer_line.end() :])
        boxed = last_boxed(answer)
        if boxed is not None:  # "# Answer\n\n\boxed{5}": the boxed contents are the answer
            answer = boxed.strip()
        if answer:
            steps.append(ANSWER_MARKER + answer)
        final = answer or None
    else:
        steps = split_steps(text, separator)
        final = _answer_of(steps)
    too_long = next((i for i, step in enumerate(steps) if len(step) > max_step_chars), None)
    if too_long is not None:
        notes.append(
            f"cut before step {too_long + 1} of {len(steps)}: {len(steps[too_long]):,} "
            f"characters, more than a step may hold ({max_step_chars:,})"
        )
        steps = steps[:too_long]
        final = _answer_of(steps)
    if len(steps) > MAX_STEPS:
        notes.append(f"cut to the first {MAX_STEPS} of {len(steps)} steps")
        steps = steps[:MAX_STEPS]
        final = _answer_of(steps)
    if not steps:
        status = NO_STEPS
        final = None
    elif final is None:
        status = NO_ANSWER
    else:
        status = OK
    return ParsedSolution(steps, final, status, stopped, notes)


def minerva_answer(step: str) -> str | None:
    """The answer of a step ending "The final answer is $<answer>$. I hope it is correct."
    (dollar signs and the sentence's full stop removed), else None."""
    answer, at = None, 0
    while (found := _MINERVA.search(step, at)) is not None:
        start = found.end()
        line_end = step.find("\n", start)
        line_end = len(step) if line_end < 0 else line_end
        at = line_end
        if start < line_end:  # at least one character of answer
            end = _SENTENCE_END.search(step, start + 1, line_end)
            if end is not None:
                line_end, at = end.start(), end.end()
            answer = step[start:line_end].strip()
    if not answer:
        return None
    if len(answer) >= 2 and answer[0] == "$" and answer[-1] == "$":
        answer = answer.strip("$").strip()
    return answer or None


def _answer_of(steps: list[str]) -> str | None:
    """The answer of split steps: an answer block or box, else the last step's Minerva one."""
    return answer_of_steps(steps) or (minerva_answer(steps[-1]) if steps else None)


def _answer_after(text: str) -> str:
    """The answer after an answer line: the next non-empty line that is not one itself (a model
    may repeat "# Answer"); "" when there is none."""
    for line in text.split("\n"):
        line = line.strip()
        if line and not _ANSWER_LINE.fullmatch(line):
            return line
    return ""


def first_step(text: str, *, separator: str = "\n\n") -> str | None:
    """The first step of a continuation (phase-1 alternatives: one next step), or None when the
    text holds none."""
    parsed = parse_solution(text, separator=separator)
    return parsed.steps[0] if parsed.steps else None
