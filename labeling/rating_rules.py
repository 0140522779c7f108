"""How an annotator's ratings become a PRM800K labeling (no Django).

PRM800K phase 2: steps are rated in order; a Negative (-1) step ends the labeling (`found_error`)
and later steps stay unrated; reaching the final-answer step with Neutral or Positive ends it as
`solution`; `give_up` and `bad_problem` end it anywhere, with a reason.
"""

from dataclasses import dataclass

from labeling.known_fields import unknown_field_message, unknown_fields
from labeling.prm800k import RATINGS
from labeling.text_policy import is_blank

MAX_REASON_LENGTH = 2000
STEP_FIELDS = frozenset({"rating", "flagged"})  # what one step of a draft's `steps` may hold


class DraftError(ValueError):
    """A draft or submit that breaks the rules; the message names the step or field."""


class UnknownFieldError(DraftError):
    """A step object with a key the rules do not know (`steps[2].ratin: unknown field`): a 400
    whatever else is wrong with the save (labeling/known_fields.py)."""


def check_known(item: dict, known: frozenset, index: int) -> None:
    """Raise UnknownFieldError naming the first (sorted) key of `item`, the object at
    `steps[index]`, not in `known` (the location is formatted only then: this runs per step of
    every draft save)."""
    unknown = unknown_fields(item, known)
    if unknown:
        raise UnknownFieldError(unknown_field_message(f"steps[{index}]", unknown[0]))


@dataclass(frozen=True)
class StepMark:
    rating: int | None
    flagged: bool


def parse_marks(raw, step_count: int) -> list[StepMark]:
    """Validate the `steps` of a draft, `[{"rating": -1/0/1/None, "flagged": bool}, ...]`: a
    rated prefix, nothing rated after a Negative. DraftError names the first bad field
    (UnknownFieldError for a key other than `rating` and `flagged`)."""
    if not isinstance(raw, list):
        raise DraftError("steps: must be a list")
    if len(raw) > step_count:
        raise DraftError(f"steps: {len(raw)} given but the solution has {step_count}")
    marks = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise DraftError(f"steps[{i}]: must be an object")
        if not item.keys() <= STEP_FIELDS:  # the rule's common case, inline: per step
            check_known(item, STEP_FIELDS, i)
        rating = item.get("rating")
        # an int exactly: JSON's 1.0 equals 1 but would be stored as a float
        if rating is not None and (type(rating) is not int or rating not in RATINGS):
            raise DraftError(f"steps[{i}].rating: must be -1, 0, 1 or null")
        flagged = item.get("flagged", False)
        if not isinstance(flagged, bool):
            raise DraftError(f"steps[{i}].flagged: must be true or false")
        marks.append(StepMark(rating, flagged))
    # trailing unrated, unflagged steps carry nothing
    while marks and marks[-1].rating is None and not marks[-1].flagged:
        marks.pop()
    for i in range(1, len(marks)):
        if marks[i - 1].rating is None:
            raise DraftError(f"steps[{i}]: rated or flagged after unrated step {i - 1}")
        if marks[i - 1].rating == -1:
            raise DraftError(f"steps[{i}]: rated after the Negative step {i - 1}")
    return marks


def to_label_steps(texts: list[str], marks: list[StepMark]) -> list[dict]:
    """The PRM800K `label.steps` of the marks: one completion (the pre-generated step) each;
    the trajectory continues through every step but a Negative one."""
    return [
        {
            "completions": [{"text": texts[i], "rating": m.rating, "flagged": m.flagged}],
            "human_completion": None,
            "chosen_completion": None if m.rating == -1 else 0,
        }
        for i, m in enumerate(marks)
    ]


def marks_of(label_steps: list[dict]) -> list[StepMark]:
    marks = []
    for step in label_steps:
        first = (step.get("completions") or [{}])[0]
        marks.append(StepMark(first.get("rating"), bool(first.get("flagged"))))
    return marks


def finish_reason_of(marks: list[StepMark], step_count: int) -> str | None:
    """The finish reason the ratings alone imply, or None while the labeling is unfinished."""
    if marks and marks[-1].rating == -1:
        return "found_error"
    if len(marks) == step_count and step_count and all(m.rating in (0, 1) for m in marks):
        return "solution"
    return None


def check_ending_reason(finish_reason: str, reason: str | None) -> str | None:
    """The cleaned reason of an ending that needs one (`give_up`, `bad_problem`: a short text
    of at most MAX_REASON_LENGTH characters), else None; raises DraftError naming `reason`.
    Both phases' check_submit start here (phase1_rules.py too)."""
    if finish_reason not in ("give_up", "bad_problem"):
        return None
    reason = (reason or "").strip()
    if is_blank(reason):  # "\u200b" is as empty as "   " (labeling/text_policy.py)
        raise DraftError(f"reason: {finish_reason} needs a short reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise DraftError(f"reason: at most {MAX_REASON_LENGTH} characters")
    return reason


def check_submit(marks: list[StepMark], step_count: int, finish_reason: str, reason: str) -> str:
    """Raise DraftError unless `finish_reason` fits the ratings; returns the cleaned reason."""
    ending = check_ending_reason(finish_reason, reason)
    if ending is not None:
        return ending
    implied = finish_reason_of(marks, step_count)
    if finish_reason == "found_error" and implied != "found_error":
        raise DraftError("finish_reason: found_error needs a step rated Negative")
    if finish_reason == "solution" and implied != "solution":
        raise DraftError(
            "finish_reason: solution needs every step rated, the final one Neutral or Positive"
        )
    if finish_reason not in ("found_error", "solution"):
        raise DraftError(
            "finish_reason: must be one of found_error, solution, give_up, bad_problem"
        )
    return ""
