"""Importing problem sets: MATH-style JSON Lines and the MATH Parquet files (verl layout)."""

import re
from dataclasses import dataclass

from django.db import transaction

from labeling.answers import last_boxed
from labeling.errors import ApplicationError
from labeling.models import Problem
from labeling.record_files import iter_records
from labeling.services.prm800k import MAX_REPORTED_ERRORS, project_get_or_create, sha256

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


def _parse_level(value) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _LEVEL.match(str(value))
    if not match:
        raise ValueError(f"level: expected a number or 'Level N', got {value!r}")
    return int(match.group(1))


def _text(record: dict, key: str, required: bool = False) -> str | None:
    value = record.get(key)
    if value is None:
        if required:
            raise ValueError(f"{key}: missing")
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key}: must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise ValueError(f"{key}: empty")
    return value


def problem_record(record) -> ProblemRecord:
    """Normalise one MATH-style record; raises ValueError naming the bad field."""
    if not isinstance(record, dict):
        raise ValueError("record: must be an object")
    ground_truth = (record.get("reward_model") or {}).get("ground_truth")
    if isinstance(ground_truth, dict):  # verl layout (the shared MATH Parquet files)
        text = strip_prompt_suffix(_text(ground_truth, "question", required=True))
        solution = _text(ground_truth, "solution") or ""
        answer = _text(ground_truth, "target")
        subject = record.get("type") or ""
        extra = record.get("extra_info") or {}
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
    return ProblemRecord(
        text=text,
        reference_solution=solution,
        reference_answer=answer,
        subject=subject,
        level=_parse_level(record.get("level")),
        external_id=external_id,
    )


PROGRESS_EVERY = 1000


def read_problem_records(path: str, stream=None, progress=None) -> list[tuple[str, ProblemRecord]]:
    """All records of a file, or ApplicationError listing every bad one with its location.
    `progress(records read)` is called now and then."""
    records, errors, total_bad = [], [], 0
    for count, (where, raw, error) in enumerate(iter_records(path, stream), start=1):
        if progress and count % PROGRESS_EVERY == 0:
            progress(count)
        if error is None:
            try:
                records.append((where, problem_record(raw)))
                continue
            except ValueError as exc:
                error = str(exc)
        total_bad += 1
        if len(errors) < MAX_REPORTED_ERRORS:
            errors.append(f"{where}: {error}")
    if total_bad:
        raise ApplicationError(
            f"{path}: {total_bad} bad record(s); nothing was imported.", details=errors
        )
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
    return result
