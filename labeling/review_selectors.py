"""Reads for a lead's review of model-assisted labeling (docs/model-assisted.md): the
disagreement queue with its outcomes, and a solution's labelings side by side for adjudication.
"""

from labeling.errors import NotFound
from labeling.models import (
    Adjudication,
    DisagreementItem,
    GenerationItem,
    Labeling,
    LabelingStatus,
    Project,
)
from labeling.rating_rules import marks_of


def disagreement_queue(project: Project, generation_number: int | None = None) -> list[dict]:
    """The disagreement queue of a project (newest generation first), optionally of one
    generation: per item `{"id", "solution", "generation", "model_version", "reason",
    "reason_text", "strength", "detail", "first_errors", "outcome"}` (`first_errors`: every
    submitted regular labeling's first error now, -1: none; `outcome`:
    labeling.services.disagreement.disagreement_outcome, a lead's ruling first, then the
    extra labeling, then whether it can still be served). An item counts as relabeled when a
    submitted regular labeling of its solution lies in its generation or in a later generation
    that queued the solution again (an item left behind by a newer generation shows the
    outcome of the requeued one); it can be served only while its generation is the newest
    and its queue item is open. Five queries, whatever the queue's length."""
    from labeling.services.assignments import current_generation
    from labeling.services.disagreement import disagreement_outcome, human_first_errors

    items = DisagreementItem.objects.filter(project=project).select_related("generation")
    if generation_number is not None:
        items = items.filter(generation__number=generation_number)
    firsts = human_first_errors(project)
    rulings = dict(
        Adjudication.objects.filter(project=project).values_list("solution_id", "first_error")
    )
    items = list(items.order_by("-generation__number", "id"))
    queued = {(i.solution_id, i.generation_id) for i in items}
    if generation_number is not None:  # a requeue in a later generation decides it too
        queued |= set(
            DisagreementItem.objects.filter(project=project).values_list(
                "solution_id", "generation_id"
            )
        )
    # (solution id, generation id) pairs with a submitted regular labeling: a queued pair
    # with one got its extra labeling
    labeled_pairs = set(
        Labeling.objects.filter(
            project=project,
            status=LabelingStatus.SUBMITTED,
            is_quality_control=False,
            is_screening=False,
            solution_id__in={solution for solution, _ in queued},
        )
        .values_list("solution_id", "generation_id")
        .distinct()
    )
    numbers = dict(project.generations.values_list("pk", "number"))
    relabeled_from: dict[int, int] = {}  # solution id: newest generation number relabeled in
    for solution_id, generation_id in queued & labeled_pairs:
        number = numbers[generation_id]
        relabeled_from[solution_id] = max(number, relabeled_from.get(solution_id, number))
    current = current_generation(project)
    open_items = set(
        GenerationItem.objects.filter(generation=current, is_open=True).values_list(
            "solution_id", flat=True
        )
    )
    rows = []
    for item in items:
        mine = firsts.get(item.solution_id, [])
        rows.append(
            {
                "id": item.pk,
                "solution": item.solution_id,
                "generation": item.generation.number,
                "model_version": item.model_version,
                "reason": item.reason,
                "reason_text": item.get_reason_display(),
                "strength": item.strength,
                "detail": item.detail,
                "first_errors": mine,
                "outcome": disagreement_outcome(
                    item,
                    mine,
                    rulings.get(item.solution_id),
                    relabeled=relabeled_from.get(item.solution_id, -2) >= item.generation.number,
                    served=current is not None
                    and item.generation_id == current.pk
                    and item.solution_id in open_items,
                ),
            }
        )
    return rows


def solution_side_by_side(project: Project, solution_id: int) -> dict:
    """A solution's submitted labelings side by side, for a lead's adjudication:
    `{"solution": {"id", "problem", "steps"}, "labelings": [{"id", "labeler", "finish_reason",
    "total_time_ms", "first_error", "is_quality_control", "hint_arm"}], "rows": [{"step",
    "text", "marks": [{"rating", "flagged"} | None per labeling]}], "adjudication": {"first_error",
    "adjudicated_by", "note", "updated_at"} | None}`. NotFound when the solution is not the
    project's. Three queries."""
    from labeling.models import Solution

    solution = Solution.objects.filter(project=project, pk=solution_id).select_related("problem")
    solution = solution.first()
    if solution is None:
        raise NotFound("No such solution.")
    labelings = list(
        Labeling.objects.filter(solution=solution, status=LabelingStatus.SUBMITTED)
        .select_related("labeler")
        .order_by("id")
    )
    marks = [marks_of(labeling.steps) for labeling in labelings]
    adjudication = (
        Adjudication.objects.filter(solution=solution).select_related("adjudicated_by").first()
    )
    return {
        "solution": {
            "id": solution.pk,
            "problem": solution.problem.text,
            "steps": list(solution.steps),
        },
        "labelings": [
            {
                "id": labeling.pk,
                "labeler": labeling.labeler.username,
                "finish_reason": labeling.finish_reason,
                "total_time_ms": labeling.total_time_ms,
                "first_error": next((i for i, mark in enumerate(mine) if mark.rating == -1), -1),
                "is_quality_control": labeling.is_quality_control,
                "hint_arm": labeling.hint_arm,
            }
            for labeling, mine in zip(labelings, marks, strict=True)
        ],
        "rows": [
            {
                "step": i,
                "text": text,
                "marks": [
                    {"rating": mine[i].rating, "flagged": mine[i].flagged}
                    if i < len(mine)
                    else None
                    for mine in marks
                ],
            }
            for i, text in enumerate(solution.steps)
        ],
        "adjudication": None
        if adjudication is None
        else {
            "first_error": adjudication.first_error,
            "adjudicated_by": adjudication.adjudicated_by.username
            if adjudication.adjudicated_by
            else None,
            "note": adjudication.note,
            "updated_at": adjudication.updated_at.isoformat(),
        },
    }
