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
    return prm800k.build_record(
        labeler=str(labeling.labeler.labeler_uuid),
        timestamp=prm800k.format_timestamp(labeling.submitted_at),
        generation=generation.number if generation is not None else None,
        is_quality_control=labeling.is_quality_control,
        is_screening=labeling.is_screening,
        question={
            "problem": problem.text,
            "ground_truth_solution": problem.reference_solution,
            "ground_truth_answer": problem.reference_answer,
            "pre_generated_steps": solution.steps,
            "pre_generated_answer": solution.final_answer,
            "pre_generated_verifier_score": labeling.verifier_score,
        },
        question_keys=labeling.question_keys,
        steps=labeling.steps,
        total_time=labeling.total_time_ms,
        finish_reason=labeling.finish_reason,
    )


def labeling_line(labeling: Labeling) -> str:
    if labeling.source_line is not None:
        return labeling.source_line
    return prm800k.dumps_record(labeling_record(labeling))


EXPORT_CHUNK = 2000


def exportable_labelings(project: Project, generation: int | None = None):
    queryset = (
        Labeling.objects.filter(project=project, status=LabelingStatus.SUBMITTED)
        .select_related("solution__problem", "labeler", "generation")
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
