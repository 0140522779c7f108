"""PRM800K export: submitted labelings streamed in the order they were stored, each written
by re-serialising its stored fields (`prm800k.build_record`), or, for the rare imported line
whose layout that would not reproduce, the kept source line."""

from collections.abc import Callable
from typing import IO

from labeling import prm800k
from labeling.models import Labeling, LabelingStatus, Project

Progress = Callable[[int], None]


def labeling_record(labeling: Labeling) -> dict:
    """The PRM800K record of a labeling (its problem, solution and labeler loaded)."""
    solution = labeling.solution
    problem = solution.problem
    generation = labeling.generation
    return record_from_fields(
        labeler_uuid=str(labeling.labeler.labeler_uuid),
        submitted_at=labeling.submitted_at,
        generation=generation.number if generation is not None else None,
        is_quality_control=labeling.is_quality_control,
        is_screening=labeling.is_screening,
        problem_text=problem.text,
        reference_solution=problem.reference_solution,
        reference_answer=problem.reference_answer,
        solution_steps=solution.steps,
        final_answer=solution.final_answer,
        verifier_score=labeling.verifier_score,
        question_keys=labeling.question_keys,
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


def labeling_line(labeling: Labeling) -> str:
    if labeling.source_line is not None:
        return labeling.source_line
    return prm800k.dumps_record(labeling_record(labeling))


EXPORT_CHUNK = 2000
EXPORT_FIELDS = (
    "source_line",
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
    return queryset


def prm800k_export(
    *,
    project: Project,
    out: IO[str],
    generation: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Write the project's submitted labelings to `out` as PRM800K lines; returns the count."""
    count = 0
    for labeling in exportable_labelings(project, generation).iterator(chunk_size=EXPORT_CHUNK):
        out.write(labeling_line(labeling))
        out.write("\n")
        count += 1
        if progress and count % EXPORT_CHUNK == 0:
            progress(count)
    if progress:
        progress(count)
    return count
