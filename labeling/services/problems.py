"""Importing problem sets: MATH-style JSON Lines and the MATH Parquet files (verl layout)."""

import re
from dataclasses import dataclass

from django.db import transaction

from labeling.answers import last_boxed
from labeling.bulk_insert import analyze
from labeling.models import Problem
from labeling.record_files import BadRecords, iter_records, validated_records
from labeling.services.prm800k import project_get_or_create, sha256
from labeling.services.solution_staging import PROBLEM_STATISTICS
from labeling.text_policy import is_blank

# The verl copies of MATH append this instruction to every problem (../shared/data/DATA.md).
PROMPT_SUFFIX = " Let's think step by step and output the final answer within \\boxed{}."
_LEVEL = re.compile(r"^\s*(?:Level\s*)?(\d+)\s*$", re.IGNORECASE)


@dataclass
class ProblemRecord:
    text: str
    reference_solution: str
    reference_answer: str | None
    subject: str
    level: int | None
    external_id: str


def strip_prompt_suffix(text: str) -> str:
    return text[: -len(PROMPT_SUFFIX)] if text.endswith(PROMPT_SUFFIX) else text


MAX_LEVEL = 32767  # a 16-bit column
SUBJECT_MAX = Problem._meta.get_field("subject").max_length
EXTERNAL_ID_MAX = Problem._meta.get_field("external_id").max_length


def _parse_level(value) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        level = value
    else:
        match = _LEVEL.match(str(value)) if isinstance(value, str) and len(value) < 40 else None
        if not match:
            shown = repr(value) if isinstance(value, str) and len(value) < 40 else "that"
            raise ValueError(f"level: expected a number or 'Level N', got {shown}")
        level = int(match.group(1))
    if not 0 <= level <= MAX_LEVEL:
        raise ValueError(f"level: must be from 0 to {MAX_LEVEL}")
    return level


def _short(value: str, field: str, limit: int) -> str:
    if len(value) > limit:
        raise ValueError(f"{field}: {len(value):,} characters; at most {limit} are allowed")
    return value


def _text(record: dict, key: str, required: bool = False) -> str | None:
    value = record.get(key)
    if value is None:
        if required:
            raise ValueError(f"{key}: missing")
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key}: must be a string, got {type(value).__name__}")
    if required and is_blank(value):
        raise ValueError(f"{key}: empty")
    return value


def problem_record(record) -> ProblemRecord:
    """Normalise one MATH-style record; raises ValueError naming the bad field."""
    if not isinstance(record, dict):
        raise ValueError("record: must be an object")
    reward_model = record.get("reward_model")
    ground_truth = reward_model.get("ground_truth") if isinstance(reward_model, dict) else None
    if isinstance(ground_truth, dict):  # verl layout (the shared MATH Parquet files)
        text = strip_prompt_suffix(_text(ground_truth, "question", required=True))
        solution = _text(ground_truth, "solution") or ""
        answer = _text(ground_truth, "target")
        subject = record.get("type") or ""
        extra = record.get("extra_info")
        extra = extra if isinstance(extra, dict) else {}
        external_id = (
            f"{extra.get('split')}/{extra.get('index')}" if extra.get("index") is not None else ""
        )
    else:
        text = strip_prompt_suffix(_text(record, "problem", required=True))
        solution = _text(record, "solution") or ""
        answer = _text(record, "answer")
        subject = _text(record, "subject") or _text(record, "type") or ""
        external_id = str(record.get("unique_id") or record.get("id") or "")
    if answer is None and solution:
        answer = last_boxed(solution)
    if not isinstance(subject, str):
        raise ValueError(f"type: must be a string, got {type(subject).__name__}")
    return ProblemRecord(
        text=text,
        reference_solution=solution,
        reference_answer=answer,
        subject=_short(subject, "subject", SUBJECT_MAX),
        level=_parse_level(record.get("level")),
        external_id=_short(external_id, "unique_id", EXTERNAL_ID_MAX),
    )


def read_problem_records(path: str, stream=None, progress=None) -> list[tuple[str, ProblemRecord]]:
    """All records of a file, or ApplicationError listing every bad one with its location.
    `progress(records read)` is called now and then."""
    bad = BadRecords(path)
    records = list(
        validated_records(
            iter_records(path, stream), lambda raw, where: problem_record(raw), bad, progress
        )
    )
    bad.raise_if_any()
    return records


@dataclass
class ProblemImportResult:
    records: int = 0
    created: int = 0
    already_present: int = 0

    def summary(self) -> str:
        if self.records == 0:
            return "The file is empty: nothing imported."
        return f"Imported {self.created} problems ({self.already_present} already present)."


def problems_import(
    *, path: str, project_name: str, stream=None, progress=None
) -> ProblemImportResult:
    records = read_problem_records(path, stream, progress)
    result = ProblemImportResult(records=len(records))
    with transaction.atomic():
        project = project_get_or_create(project_name)
        existing = set(Problem.objects.filter(project=project).values_list("text_hash", flat=True))
        new = []
        for _, record in records:
            digest = sha256(record.text)
            if digest in existing:
                result.already_present += 1
                continue
            existing.add(digest)
            new.append(Problem(project=project, text_hash=digest, **record.__dict__))
        Problem.objects.bulk_create(new, batch_size=2000)
        result.created = len(new)
        if new:
            analyze({Problem: PROBLEM_STATISTICS})
    return result
