"""The PRM800K record format: validation, the canonical layout, and serialisation.

Pure functions with no Django import. The layout is the one of OpenAI's PRM800K release
(see ../shared/PRM800K-FORMAT.md): JSON Lines written by Python's `json.dumps` with default
settings, keys in release order. `dumps_record(build_record(...))` is the one way a record is
written; import checks that it reproduces each source line byte for byte.
"""

import json
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from labeling.text_policy import ImportLimits

TOP_KEYS = (
    "labeler",
    "timestamp",
    "generation",
    "is_quality_control_question",
    "is_initial_screening_question",
    "question",
    "label",
)
QUESTION_KEYS = (
    "problem",
    "ground_truth_solution",
    "ground_truth_answer",
    "pre_generated_steps",
    "pre_generated_answer",
    "pre_generated_verifier_score",
)
LABEL_KEYS = ("steps", "total_time", "finish_reason")
STEP_KEYS = ("completions", "human_completion", "chosen_completion")
COMPLETION_KEYS = ("text", "rating", "flagged")
HUMAN_COMPLETION_KEYS = ("text", "rating", "source", "flagged")
FINISH_REASONS = ("found_error", "solution", "give_up", "bad_problem")
RATINGS = (-1, 0, 1)
ANSWER_MARKER = "# Answer\n\n"
MAX_GENERATION = 2**31 - 1  # generation numbers are 32-bit integers
MAX_TOTAL_TIME = 2**63 - 1  # milliseconds, a 64-bit integer


class RecordError(ValueError):
    """A record that does not fit the format; the message starts with the offending field."""


@dataclass(frozen=True)
class RatingRow:
    step_index: int
    completion_index: int  # -1 for the human completion
    rating: int | None
    flagged: bool | None


# --- validation -------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(value), type(value).__name__)


def _require(obj: dict, key: str, where: str) -> Any:
    if key not in obj:
        raise RecordError(f"{where}{key}: missing")
    return obj[key]


def _shown(value: Any) -> str:
    """A value for an error message: numbers and booleans as JSON (a huge one cut short),
    anything else by its type."""
    if _type_name(value) not in ("integer", "number", "boolean"):
        return _type_name(value)
    text = json.dumps(value)
    return text if len(text) <= 24 else f"{text[:20]}... ({len(text)} digits)"


def _check(ok: bool, field: str, expected: str, value: Any) -> None:
    if not ok:
        raise RecordError(f"{field}: must be {expected}, got {_shown(value)}")


def _check_rating(value: Any, field: str) -> None:
    ok = value is None or (_is_int(value) and value in RATINGS)
    if not ok:
        shown = json.dumps(value) if not isinstance(value, (dict, list)) else _type_name(value)
        raise RecordError(f"{field}: must be -1, 0, 1 or null, got {shown}")


def _check_flag(value: Any, field: str) -> None:
    _check(value is None or isinstance(value, bool), field, "true, false or null", value)


def validate_record(record: Any, limits: ImportLimits | None = None) -> None:
    """Raise RecordError naming the first field that does not fit the PRM800K layout, or that
    passes a size limit (`limits`: steps per labeling and per pre-generated solution,
    completions per step). The texts are checked elsewhere (`labeling.text_policy`)."""
    limits = limits or ImportLimits()
    _check(isinstance(record, dict), "record", "an object", record)
    labeler = _require(record, "labeler", "")
    _check(isinstance(labeler, str), "labeler", "a UUID string", labeler)
    try:
        uuid.UUID(labeler)
    except ValueError:
        raise RecordError(f"labeler: must be a UUID, got {labeler!r}") from None
    timestamp = _require(record, "timestamp", "")
    _check(isinstance(timestamp, str), "timestamp", "an ISO 8601 string", timestamp)
    try:
        parse_timestamp(timestamp)
    except ValueError:
        raise RecordError(f"timestamp: not an ISO 8601 date-time: {timestamp!r}") from None
    except OverflowError:
        raise RecordError(f"timestamp: out of range in UTC: {timestamp!r}") from None
    generation = _require(record, "generation", "")
    _check(
        generation is None or _is_int(generation), "generation", "an integer or null", generation
    )
    if generation is not None and not -1 <= generation <= MAX_GENERATION:
        raise RecordError(
            f"generation: must be from -1 to {MAX_GENERATION}, got {_shown(generation)}"
        )
    for key in ("is_quality_control_question", "is_initial_screening_question"):
        value = _require(record, key, "")
        _check(isinstance(value, bool), key, "true or false", value)

    question = _require(record, "question", "")
    _check(isinstance(question, dict), "question", "an object", question)
    problem = _require(question, "problem", "question.")
    _check(isinstance(problem, str), "question.problem", "a string", problem)
    for key in ("ground_truth_solution", "ground_truth_answer", "pre_generated_answer"):
        if key in question:
            value = question[key]
            _check(
                value is None or isinstance(value, str),
                f"question.{key}",
                "a string or null",
                value,
            )
    if "pre_generated_steps" in question:
        pre_steps = question["pre_generated_steps"]
        _check(isinstance(pre_steps, list), "question.pre_generated_steps", "an array", pre_steps)
        _check_count(len(pre_steps), "question.pre_generated_steps", limits.max_steps)
        for i, text in enumerate(pre_steps):
            _check(isinstance(text, str), f"question.pre_generated_steps[{i}]", "a string", text)
    if "pre_generated_verifier_score" in question:
        score = question["pre_generated_verifier_score"]
        _check(
            score is None or _is_number(score),
            "question.pre_generated_verifier_score",
            "a number or null",
            score,
        )

    label = _require(record, "label", "")
    _check(isinstance(label, dict), "label", "an object", label)
    steps = _require(label, "steps", "label.")
    _check(isinstance(steps, list), "label.steps", "an array", steps)
    _check_count(len(steps), "label.steps", limits.max_steps)
    for i, step in enumerate(steps):
        _validate_step(step, f"label.steps[{i}]", limits)
    total_time = _require(label, "total_time", "label.")
    _check(
        total_time is None or (_is_number(total_time) and 0 <= total_time <= MAX_TOTAL_TIME),
        "label.total_time",
        f"a number of milliseconds from 0 to {MAX_TOTAL_TIME} or null",
        total_time,
    )
    finish_reason = _require(label, "finish_reason", "label.")
    if finish_reason not in FINISH_REASONS:
        raise RecordError(
            f"label.finish_reason: must be one of {', '.join(FINISH_REASONS)}, "
            f"got {json.dumps(finish_reason)}"
        )


def _check_count(count: int, field: str, limit: int) -> None:
    if count > limit:
        what, setting = (
            ("completions", "IMPORT_MAX_COMPLETIONS")
            if field.endswith("completions")
            else ("steps", "IMPORT_MAX_STEPS")
        )
        raise RecordError(
            f"{field}: {count:,} {what}; at most {limit:,} are allowed (setting {setting})"
        )


def _validate_step(step: Any, where: str, limits: ImportLimits) -> None:
    _check(isinstance(step, dict), where, "an object", step)
    completions = _require(step, "completions", f"{where}.")
    _check(
        completions is None or isinstance(completions, list),
        f"{where}.completions",
        "an array or null",
        completions,
    )
    _check_count(len(completions or ()), f"{where}.completions", limits.max_completions)
    for j, completion in enumerate(completions or ()):
        field = f"{where}.completions[{j}]"
        _check(isinstance(completion, dict), field, "an object", completion)
        text = _require(completion, "text", f"{field}.")
        _check(isinstance(text, str), f"{field}.text", "a string", text)
        _check_rating(_require(completion, "rating", f"{field}."), f"{field}.rating")
        _check_flag(completion.get("flagged"), f"{field}.flagged")
    human = _require(step, "human_completion", f"{where}.")
    if human is not None:
        field = f"{where}.human_completion"
        _check(isinstance(human, dict), field, "an object or null", human)
        text = human.get("text")
        _check(text is None or isinstance(text, str), f"{field}.text", "a string", text)
        _check_rating(human.get("rating"), f"{field}.rating")
        _check_flag(human.get("flagged"), f"{field}.flagged")
    chosen = _require(step, "chosen_completion", f"{where}.")
    _check(
        chosen is None or _is_int(chosen),
        f"{where}.chosen_completion",
        "an integer or null",
        chosen,
    )
    if chosen is not None and not 0 <= chosen < len(completions or ()):
        raise RecordError(
            f"{where}.chosen_completion: {chosen} is not the index of one of its "
            f"{len(completions or ())} completions"
        )


# --- reading ----------------------------------------------------------------------------------


def parse_timestamp(value: str) -> datetime:
    """PRM800K timestamps carry no zone; they are UTC. One with an offset is converted to UTC
    (PostgreSQL refuses offsets that Python accepts, such as +17:18). ValueError for a text
    that is not ISO 8601, OverflowError for one that leaves the calendar in UTC."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC without zone, microseconds included when non-zero (as the release)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat()


def trajectory(steps: list[dict]) -> list[str]:
    """The step texts that continue the labeled path (PRM800K-FORMAT.md, "The trajectory")."""
    texts = []
    for step in steps:
        chosen = step.get("chosen_completion")
        human = step.get("human_completion")
        if chosen is not None:
            texts.append(step["completions"][chosen]["text"])
        elif human is not None and human.get("text") is not None:
            texts.append(human["text"])
    return texts


def answer_of(steps: list[str]) -> str | None:
    """The final answer of a solution whose last step ends with a `# Answer` block, else None."""
    if not steps:
        return None
    last = steps[-1]
    at = last.rfind(ANSWER_MARKER)
    if at < 0:
        return None
    return last[at + len(ANSWER_MARKER) :].strip()


def iter_ratings(steps: list[dict]) -> Iterator[RatingRow]:
    """Every completion (and human completion) of every step, as rows for `StepRating`."""
    for i, step in enumerate(steps):
        for j, completion in enumerate(step.get("completions") or ()):
            yield RatingRow(i, j, completion.get("rating"), completion.get("flagged"))
        human = step.get("human_completion")
        if human is not None:
            yield RatingRow(i, -1, human.get("rating"), human.get("flagged"))


def first_error_index(steps: list[dict]) -> int | None:
    """Index of the first step whose first completion is rated -1, or None."""
    for i, step in enumerate(steps):
        completions = step.get("completions") or ()
        if completions and completions[0].get("rating") == -1:
            return i
    return None


# --- writing ----------------------------------------------------------------------------------


def _ordered(obj: dict, keys: tuple[str, ...]) -> dict:
    """`obj` with `keys` first in that order, then any other keys in their stored order.

    PostgreSQL's jsonb does not keep key order, so everything read back is re-ordered here.
    """
    out = {key: obj[key] for key in keys if key in obj}
    for key, value in obj.items():
        if key not in out:
            out[key] = value
    return out


def ordered_steps(steps: list[dict]) -> list[dict]:
    result = []
    for step in steps:
        step = _ordered(step, STEP_KEYS)
        if step.get("completions") is not None:
            step["completions"] = [_ordered(c, COMPLETION_KEYS) for c in step["completions"]]
        if step.get("human_completion") is not None:
            step["human_completion"] = _ordered(step["human_completion"], HUMAN_COMPLETION_KEYS)
        result.append(step)
    return result


def build_record(
    *,
    labeler: str,
    timestamp: str,
    generation: int | None,
    is_quality_control: bool,
    is_screening: bool,
    question: dict,
    question_keys: list[str] | None,
    steps: list[dict],
    total_time: int | float | None,
    finish_reason: str,
) -> dict:
    """A PRM800K record in release key order. `question` holds every known question field;
    `question_keys` (None = all of QUESTION_KEYS) says which of them the record carries."""
    keys = QUESTION_KEYS if question_keys is None else question_keys
    return {
        "labeler": labeler,
        "timestamp": timestamp,
        "generation": generation,
        "is_quality_control_question": is_quality_control,
        "is_initial_screening_question": is_screening,
        "question": {key: question.get(key) for key in keys},
        "label": {
            "steps": ordered_steps(steps),
            "total_time": total_time,
            "finish_reason": finish_reason,
        },
    }


def dumps_record(record: dict) -> str:
    """One line of the release: `json.dumps` defaults (", " / ": ", ASCII with \\u escapes).

    orjson is used elsewhere, but it cannot write these separators or escapes.
    """
    return json.dumps(record)
