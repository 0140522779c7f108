"""Importing candidate solutions: ProcessBench's JSON and a plain JSON Lines layout (or Parquet).

JSON Lines records carry the problem as `problem` (text; matched exactly, or created) or as a
reference to a problem already in the project (`problem_id`, our id, or `problem_external_id`,
e.g. MATH's `unique_id`); `steps` as a list of strings or as one text (split into steps at blank
lines); and optionally `answer` (alias `final_answer`; found in the last step when absent),
`reference_answer`, `generator`, `metadata` (an object: sampling settings and the like), `id` and
`is_correct`. ProcessBench records carry `id`, `generator`, `problem`, `steps`,
`final_answer_correct` and `label` (the experts' first wrong step, kept in the metadata).

How it is fast (issue 15; docs/benchmarks.md): records stream from the file into a temporary
staging table (COPY on PostgreSQL, batched inserts on SQLite) while they are checked, so memory
stays flat at any file size; then a few set-based statements create the missing problems, match
every record to its problem by the problem's hashed text (or its id / external id), insert the
solutions that are new (`ON CONFLICT DO NOTHING` on (problem, steps hash)) and put them into the
generation in file order. Nothing of the project is loaded into memory. The tasks are servable
when the transaction commits; grading follows on the `grading` queue.
"""

import json
import re
from dataclasses import dataclass

from django.db import transaction

from labeling import hooks
from labeling.answers import final_answer as answer_in_steps
from labeling.errors import ApplicationError
from labeling.prm800k import ANSWER_MARKER
from labeling.record_files import (
    MAX_REPORTED_ERRORS,
    BadRecords,
    import_limits,
    iter_records,
    validated_records,
)
from labeling.services.prm800k import (
    lock_project_imports,
    project_get_or_create,
    sha256,
    steps_json,
)
from labeling.services.problems import strip_prompt_suffix
from labeling.services.solution_staging import StagedImport
from labeling.text_policy import ImportLimits, check_count, is_blank

SOURCE_PROCESSBENCH = "processbench"
SOURCE_IMPORT = "import"
MAX_ID = 2**63 - 1  # ids are 64-bit
SHORT_TEXT = 200  # generator, id and problem_external_id are stored in 200-character columns


@dataclass(slots=True)
class SolutionRecord:
    problem: str | None  # None when the record refers to a problem by id or external id
    steps: list[str]
    answer: str | None
    reference_answer: str | None
    generator: str
    external_id: str
    is_correct: bool | None
    source: str
    metadata: dict
    problem_id: int | None = None
    problem_external_id: str | None = None
    steps_text: str = ""  # json.dumps(steps): what steps_hash hashes and what is stored


_BLANK_LINES = re.compile(r"\n[ \t]*\n")


def split_steps(text: str) -> list[str]:
    """A solution given as one text: its steps are the paragraphs (split at blank lines), a
    PRM800K `# Answer` heading staying with the answer below it (`# Answer\n\n<answer>`)."""
    steps: list[str] = []
    for part in (p.strip() for p in _BLANK_LINES.split(text)):
        if not part:
            continue
        if steps and steps[-1] == ANSWER_MARKER.strip():
            steps[-1] = ANSWER_MARKER + part
        else:
            steps.append(part)
    return steps


def _optional_str(record: dict, key: str, max_chars: int | None = None) -> str | None:
    value = record.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key}: must be a string, got {type(value).__name__}")
    if value is not None and max_chars is not None and len(value) > max_chars:
        raise ValueError(f"{key}: {len(value):,} characters; at most {max_chars} are allowed")
    return value


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def solution_record(record, limits: ImportLimits | None = None) -> SolutionRecord:
    """Normalise one record (its texts already passed the text policy: `iter_records`);
    raises ValueError naming the bad field."""
    limits = limits or import_limits()
    if not isinstance(record, dict):
        raise ValueError("record: must be an object")
    problem = record.get("problem")
    problem_id = record.get("problem_id")
    problem_external_id = record.get("problem_external_id")
    if problem_id is not None and (not _is_int(problem_id) or not 1 <= problem_id <= MAX_ID):
        raise ValueError("problem_id: must be a positive integer (a problem's id)")
    if problem_external_id is not None and (
        not isinstance(problem_external_id, str) or is_blank(problem_external_id)
    ):
        raise ValueError("problem_external_id: must be a non-empty string")
    _optional_str(record, "problem_external_id", SHORT_TEXT)
    referenced = problem_id is not None or problem_external_id is not None
    if (problem is not None or not referenced) and (
        not isinstance(problem, str) or is_blank(problem)
    ):
        raise ValueError(
            "problem: missing (give problem, problem_id or problem_external_id)"
            if problem is None
            else "problem: must be a non-empty string"
        )
    steps = record.get("steps")
    if isinstance(steps, str):
        steps = split_steps(steps)
        if not steps:
            raise ValueError("steps: empty text")
    if not isinstance(steps, list):
        raise ValueError(
            "steps: missing" if steps is None else "steps: must be a list of strings or a text"
        )
    if not steps:
        raise ValueError("steps: empty")
    check_count(len(steps), "steps", limits.max_steps, "steps", "IMPORT_MAX_STEPS")
    for i, step in enumerate(steps):
        if not isinstance(step, str):
            raise ValueError(f"steps[{i}]: must be a string, got {type(step).__name__}")
    is_processbench = "final_answer_correct" in record and "label" in record
    metadata = {}
    if is_processbench:
        correct = record["final_answer_correct"]
        if not isinstance(correct, bool):
            raise ValueError("final_answer_correct: must be true or false")
        label = record["label"]
        if not _is_int(label) or not -1 <= label < len(steps):
            shown = label if _is_int(label) and abs(label) < 10**9 else type(label).__name__
            raise ValueError(f"label: must be -1 or a step index below {len(steps)}, got {shown}")
        metadata["processbench_label"] = label
    else:
        correct = record.get("is_correct")
        if correct is not None and not isinstance(correct, bool):
            raise ValueError("is_correct: must be true, false or null")
    answer = _optional_str(record, "answer")
    if answer is None:
        answer = _optional_str(record, "final_answer")
    if answer is None:
        answer = answer_in_steps(steps)
    generator = _optional_str(record, "generator", SHORT_TEXT) or ""
    extra = record.get("metadata")
    if extra is not None:
        if not isinstance(extra, dict):
            raise ValueError("metadata: must be an object")
        metadata = {**extra, **metadata}
    external_id = record.get("id")
    if external_id is not None and (
        not isinstance(external_id, str | int) or isinstance(external_id, bool)
    ):
        raise ValueError("id: must be a string or a number")
    external_id = "" if external_id is None else str(external_id)
    if len(external_id) > SHORT_TEXT:
        raise ValueError(f"id: {len(external_id):,} characters; at most {SHORT_TEXT} are allowed")
    return SolutionRecord(
        problem=None if problem is None else strip_prompt_suffix(problem),
        steps=steps,
        answer=answer,
        reference_answer=_optional_str(record, "reference_answer"),
        generator=generator,
        external_id=external_id,
        is_correct=correct,
        source=SOURCE_PROCESSBENCH if is_processbench else SOURCE_IMPORT,
        metadata=metadata,
        problem_id=problem_id,
        problem_external_id=problem_external_id,
        steps_text=steps_json(steps),
    )


class _ProblemHashes:
    """sha256 of problem texts, remembering the ones already staged: a pool repeats each problem
    for every candidate, and only the first record of a problem needs to carry its text to the
    staging table (a quarter of the bytes, in the benchmark's pool). Bounded: when full it
    forgets, and a forgotten problem's text is merely staged again."""

    LIMIT = 20_000

    def __init__(self):
        self.staged: dict[str, str] = {}  # text -> hash

    def get(self, text: str) -> tuple[str, bool]:
        """(hash, whether this is the first record of the problem to be staged)."""
        digest = self.staged.get(text)
        if digest is not None:
            return digest, False
        if len(self.staged) >= self.LIMIT:
            self.staged.clear()
        digest = self.staged[text] = sha256(text)
        return digest, True


def staged_row(record: SolutionRecord, where: str, problems: _ProblemHashes) -> tuple:
    """The staging-table row of a record (`solution_staging.COLUMNS` order, without `ord`)."""
    try:
        # allow_nan=False: NaN is not JSON, and PostgreSQL's jsonb refuses it
        metadata = json.dumps(record.metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata: not storable as JSON ({exc})") from None
    text = record.problem
    digest, first = (None, False) if text is None else problems.get(text)
    return (
        where,
        digest,
        text if first else None,
        record.problem_id if text is None else None,
        record.problem_external_id if text is None and record.problem_id is None else None,
        record.reference_answer,
        record.steps_text,
        sha256(record.steps_text),
        record.answer,
        record.generator,
        record.source,
        record.external_id,
        record.is_correct,
        metadata,
    )


@dataclass
class SolutionImportResult:
    records: int = 0
    created: int = 0
    already_present: int = 0
    problems_created: int = 0
    generation: int | None = None

    def summary(self) -> str:
        if self.records == 0:
            return "The file is empty: nothing imported."
        if self.generation is None:
            return f"Nothing new: all {self.already_present} solutions were already imported."
        return (
            f"Imported {self.created} solutions ({self.already_present} already present, "
            f"{self.problems_created} new problems) into generation {self.generation}."
        )


class _Rows:
    """The staging rows of a file's records, in file order; bad records are collected as
    `FILE:LINE: field: what is wrong` (after the first one, nothing more is staged)."""

    def __init__(self, path: str, stream, progress, limits: ImportLimits):
        self.path, self.stream, self.progress, self.limits = path, stream, progress, limits
        self.bad = BadRecords(path)
        self.count = 0
        self.problems = _ProblemHashes()

    def _located(self):
        for located in iter_records(self.path, self.stream, self.limits):
            self.count += 1
            yield located

    def _row(self, raw, where: str):
        return staged_row(solution_record(raw, self.limits), where, self.problems)

    def __iter__(self):
        for _, row in validated_records(self._located(), self._row, self.bad, self.progress):
            yield row

    def raise_errors(self) -> None:
        self.bad.raise_if_any()


def solutions_import(
    *,
    path: str,
    project_name: str,
    generation: int | None = None,
    stream=None,
    progress=None,
) -> SolutionImportResult:
    """Import candidate solutions into a generation (a new one unless `generation` is given),
    all or nothing. `progress(records read)` is called now and then while the file is read.
    ApplicationError lists the bad records (`FILE:LINE: field: what is wrong`)."""
    if generation is not None and not -1 <= generation <= 2**31 - 1:
        raise ApplicationError(f"--generation must be from -1 to 2147483647, got {generation}")
    limits = import_limits()
    result = SolutionImportResult()
    with transaction.atomic():
        project = project_get_or_create(project_name)
        lock_project_imports(project)
        staged = StagedImport(project)
        rows = _Rows(path, stream, progress, limits)
        staged.load(rows)
        rows.raise_errors()  # rolls back everything, the staging table included
        result.records = rows.count
        if not rows.count:
            staged.drop()
            return result
        result.problems_created = staged.create_problems()
        staged.resolve_problems()
        unknown = staged.unknown_problem_references(MAX_REPORTED_ERRORS)
        if unknown:
            total, lines = unknown
            raise ApplicationError(
                f"{path}: {total} bad record(s); nothing was imported.", details=lines
            )
        result.created = staged.create_solutions()
        result.already_present = result.records - result.created
        if generation is None and not result.created:
            staged.drop()
            return result  # nothing new: no empty generation is made
        target, is_new = staged.target_generation(generation)
        result.generation = target.number
        staged.add_to_generation(target, recount=not is_new)
        staged.analyze()
        staged.drop()
        if result.created:  # grade the new candidates on a `grading` worker (best effort: the
            # beat watchdog grades whatever is left when the broker is down)
            transaction.on_commit(lambda: _grade_later(project.pk))
    if progress:
        progress(result.records)
    return result


def _grade_later(project_id: int) -> None:
    hooks.solutions_need_grading.fire(project_id)  # the loop's grading queue subscribes
