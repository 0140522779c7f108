"""PRM800K export: submitted labelings streamed in the order they were stored, each written
by re-serialising its stored fields (`prm800k.build_record`), or, for the rare imported line
whose layout that would not reproduce, the kept source line."""

import json
from collections.abc import Callable, Iterable, Iterator
from typing import IO

from django.db.models import F

from labeling import prm800k
from labeling.models import Labeling, LabelingStatus, Project

Progress = Callable[[int], None]
# The `question` of a PRM800K phase-1 record (../shared/PRM800K-FORMAT.md).
PHASE1_QUESTION_KEYS = ["problem", "ground_truth_answer"]


def labeling_record(labeling: Labeling) -> dict:
    """The PRM800K record of a labeling (its problem, solution and labeler loaded)."""
    solution = labeling.solution
    problem = solution.problem
    generation = labeling.generation
    # A phase-1 labeling made here (its solution is the problem alone) is written in the
    # release's phase-1 layout: generation null, the question's problem and answer only.
    phase1 = labeling.source_hash is None and not solution.steps
    return record_from_fields(
        labeler_uuid=str(labeling.labeler.labeler_uuid),
        submitted_at=labeling.submitted_at,
        generation=generation.number if generation is not None and not phase1 else None,
        is_quality_control=labeling.is_quality_control,
        is_screening=labeling.is_screening,
        problem_text=problem.text,
        reference_solution=problem.reference_solution,
        reference_answer=problem.reference_answer,
        solution_steps=solution.steps,
        final_answer=solution.final_answer,
        verifier_score=labeling.verifier_score,
        question_keys=PHASE1_QUESTION_KEYS if phase1 else labeling.question_keys,
        steps=labeling.steps,
        total_time_ms=labeling.total_time_ms,
        finish_reason=labeling.finish_reason,
    )


def record_from_fields(
    *,
    labeler_uuid: str,
    submitted_at,
    generation: int | None,
    is_quality_control: bool,
    is_screening: bool,
    problem_text: str,
    reference_solution: str,
    reference_answer: str | None,
    solution_steps: list[str],
    final_answer: str | None,
    verifier_score: float | None,
    question_keys: list[str] | None,
    steps: list[dict],
    total_time_ms: int | None,
    finish_reason: str,
) -> dict:
    """The PRM800K record of stored field values (the import checks its rows with this before
    writing them, so it needs no model instances)."""
    return prm800k.build_record(
        labeler=labeler_uuid,
        timestamp=prm800k.format_timestamp(submitted_at),
        generation=generation,
        is_quality_control=is_quality_control,
        is_screening=is_screening,
        question={
            "problem": problem_text,
            "ground_truth_solution": reference_solution,
            "ground_truth_answer": reference_answer,
            "pre_generated_steps": solution_steps,
            "pre_generated_answer": final_answer,
            "pre_generated_verifier_score": verifier_score,
        },
        question_keys=question_keys,
        steps=steps,
        total_time=total_time_ms,
        finish_reason=finish_reason,
    )


# The extension field of an adjudicated solution's lines (docs/formats.md, "Adjudication"):
# the last key of the record, so a reader of the release layout that ignores unknown keys
# reads the line as before, and a line of a solution with no adjudication is unchanged.
ADJUDICATION_KEY = "adjudication"


def labeling_line(labeling: Labeling) -> str:
    """The PRM800K line of a labeling; when its solution has an adjudicated first error (the
    `adjudicated_first_error` annotation of `with_adjudication`), the record ends with
    `"adjudication": {"first_error": N}` (0-based step, -1: none). The key says the project's
    ruling and nothing else: a kept source line that still carries one (an import made before
    the import turned the key into a ruling) is written without it when there is no ruling."""
    if labeling.source_line is not None:
        line = _without_key(labeling.source_line)
    else:
        line = prm800k.dumps_record(labeling_record(labeling))
    first_error = getattr(labeling, "adjudicated_first_error", None)
    if first_error is None:
        return line
    # appended before the closing brace: the rest of the line stays byte for byte
    extension = json.dumps({ADJUDICATION_KEY: {"first_error": first_error}})[1:-1]
    body = line.rstrip()
    return f"{body[:-1]}, {extension}}}"


def _without_key(line: str) -> str:
    """A kept source line without an `adjudication` key: the bytes before it when it ends the
    line as the export writes it, else the record re-serialised without it."""
    if f'"{ADJUDICATION_KEY}"' not in line:
        return line
    record = json.loads(line)
    if ADJUDICATION_KEY not in record:
        return line
    suffix = ", " + json.dumps({ADJUDICATION_KEY: record[ADJUDICATION_KEY]})[1:]
    if line.rstrip().endswith(suffix):
        return line.rstrip()[: -len(suffix)] + "}"
    del record[ADJUDICATION_KEY]
    return json.dumps(record)


def with_adjudication(queryset):
    """`queryset` of labelings annotated with their solution's adjudicated first error (null:
    none), which `labeling_line` writes as the extension field. One join, no extra query."""
    return queryset.annotate(adjudicated_first_error=F("solution__adjudication__first_error"))


EXPORT_CHUNK = 2000
EXPORT_FIELDS = (
    "source_line",
    "source_hash",
    "submitted_at",
    "is_quality_control",
    "is_screening",
    "steps",
    "verifier_score",
    "question_keys",
    "total_time_ms",
    "finish_reason",
    "generation__number",
    "labeler__labeler_uuid",
    "solution__steps",
    "solution__final_answer",
    "solution__problem__text",
    "solution__problem__reference_solution",
    "solution__problem__reference_answer",
)


def exportable_labelings(project: Project, generation: int | None = None):
    queryset = (
        Labeling.objects.filter(project=project, status=LabelingStatus.SUBMITTED)
        .select_related("solution__problem", "labeler", "generation")
        # only the columns the record is built from: no decoding of columns export never uses
        .only(*EXPORT_FIELDS)
        .order_by("id")
    )
    if generation is not None:
        queryset = queryset.filter(generation__number=generation)
    return with_adjudication(queryset)


def prm800k_export(
    *,
    project: Project,
    out: IO[str],
    generation: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Write the project's submitted labelings to `out` as PRM800K lines; returns the count.
    (`manage.py export_prm800k`; export jobs filter first and call `prm800k_write` themselves.)"""
    labelings = exportable_labelings(project, generation).iterator(chunk_size=EXPORT_CHUNK)
    return prm800k_write(with_progress(labelings, progress), out)


def with_progress(items: Iterable, progress: Progress | None) -> Iterator:
    """`items`, calling `progress(count so far)` every EXPORT_CHUNK items and once at the end."""
    count = 0
    for item in items:
        yield item
        count += 1
        if progress and count % EXPORT_CHUNK == 0:
            progress(count)
    if progress:
        progress(count)


def prm800k_write(labelings: Iterable[Labeling], out: IO[str]) -> int:
    """The one PRM800K writer: each labeling as one line (`labeling_line`: the kept source line
    of an imported record whose layout re-serialising would not reproduce, else the record
    rebuilt from its fields), `\n`-terminated, streamed; returns the number of lines. Byte for
    byte the PRM800K file that was imported (tests/labeling/services/
    test_prm800k_import_export.py)."""
    count = 0
    for labeling in labelings:
        out.write(labeling_line(labeling))
        out.write("\n")
        count += 1
    return count
