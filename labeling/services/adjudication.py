"""Adjudication (issue 19, docs/model-assisted.md): a lead rules on a solution's first error
after seeing its labelings side by side. The ruling is stored beside the labelings (which are
never changed); training uses it instead of them and the PRM800K export carries it."""

from django.db import transaction

from labeling.errors import ApplicationError
from labeling.models import (
    Adjudication,
    DisagreementItem,
    GenerationItem,
    Labeling,
    LabelingStatus,
    Solution,
    User,
)
from labeling.project_stats import stats_mark_changed


def adjudication_record(
    *, solution: Solution, user: User, first_error: int, note: str = ""
) -> Adjudication:
    """Record (or replace) the adjudicated first error of `solution`: a 0-based step index,
    or -1 for "no error". ApplicationError naming the field when `first_error` is not -1 or
    a step of the solution, or the solution has no submitted labeling to adjudicate; nothing
    changes then.

    The ruling settles the solution, so its disagreement-queue items still open (waiting for
    their one more labeling) are closed in the same transaction: the next-task rule serves
    only open items, and `generation_items_recount` keeps them closed. A draft already
    handed out is left to finish (its submit is counted as any other)."""
    if isinstance(first_error, bool) or not isinstance(first_error, int):
        raise ApplicationError("first_error: must be a whole number (-1: no error)")
    if not -1 <= first_error < len(solution.steps):
        raise ApplicationError(
            f"first_error: must be -1 (no error) or a step from 0 to {len(solution.steps) - 1}"
        )
    if not Labeling.objects.filter(solution=solution, status=LabelingStatus.SUBMITTED).exists():
        raise ApplicationError("solution: has no submitted labeling to adjudicate")
    with transaction.atomic():
        adjudication, _ = Adjudication.objects.update_or_create(
            solution=solution,
            defaults={
                "project_id": solution.project_id,
                "first_error": first_error,
                "adjudicated_by": user,
                "note": note,
            },
        )
        queued = DisagreementItem.objects.filter(solution=solution).values("generation_id")
        GenerationItem.objects.filter(
            solution=solution, generation_id__in=queued, wanted__isnull=False, is_open=True
        ).update(is_open=False)
    transaction.on_commit(lambda: stats_mark_changed(solution.project_id))
    return adjudication
