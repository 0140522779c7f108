"""Grading candidate solutions: each final answer against its problem's reference answer, with
`labeling.grading.grade_answer` (math-verify, symbolic equivalence).

A solution is graded when it has a final answer and its problem has a reference answer; without
either, `is_correct` stays null (unknown), and selection never counts it as a wrong answer.
math-verify's timeouts are SIGALRM based, which works only in a process's main thread: Celery's
prefork workers and management commands run tasks there. Elsewhere (a thread) this refuses to
run rather than risk an expression that never finishes. A grading error on one solution leaves
that solution ungraded and is counted, never fatal for the batch.
"""

import logging
import threading

from django.db import transaction
from django.utils import timezone

from labeling.errors import ApplicationError
from labeling.models import Project, Solution

logger = logging.getLogger(__name__)

GRADE_BATCH = 500  # solutions per transaction: a killed task keeps what it finished


def ungraded(project: Project):
    """Solutions that can be graded and are not yet."""
    return Solution.objects.filter(
        project=project,
        is_correct__isnull=True,
        graded_at__isnull=True,
        final_answer__isnull=False,
        problem__reference_answer__regex=r"\S",  # not null, not blank
    )


def solutions_grade(
    *, project: Project, solution_ids: list[int] | None = None, regrade: bool = False
) -> dict:
    """Grade a project's solutions (by default the ungraded ones; `regrade` for all, e.g. after
    reference answers were corrected). Returns counts by outcome."""
    from labeling.grading import grade_answer

    if threading.current_thread() is not threading.main_thread():
        raise ApplicationError(
            "Grading must run in a process's main thread (math-verify's timeouts use signals): "
            "run it from a Celery prefork worker or the grade_solutions command."
        )
    solutions = Solution.objects.filter(project=project)
    if not regrade:
        solutions = solutions.filter(is_correct__isnull=True, graded_at__isnull=True)
    if solution_ids is not None:
        solutions = solutions.filter(pk__in=solution_ids)
    counts = {"correct": 0, "wrong": 0, "no_reference": 0, "no_answer": 0, "errors": 0}
    ids = list(solutions.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), GRADE_BATCH):
        batch = list(
            Solution.objects.filter(pk__in=ids[start : start + GRADE_BATCH])
            .select_related("problem")
            .only("pk", "final_answer", "is_correct", "graded_at", "problem__reference_answer")
        )
        now = timezone.now()
        for solution in batch:
            reference = solution.problem.reference_answer
            if reference is None or not reference.strip():
                solution.is_correct, solution.graded_at = None, None
                counts["no_reference"] += 1
                continue
            if not solution.final_answer or not solution.final_answer.strip():
                solution.is_correct, solution.graded_at = None, None
                counts["no_answer"] += 1
                continue
            try:
                solution.is_correct = grade_answer(solution.final_answer, reference)
            except Exception:  # a parser failure or timeout: unknown, never "wrong"
                logger.warning("could not grade solution %s", solution.pk, exc_info=True)
                solution.is_correct, solution.graded_at = None, None
                counts["errors"] += 1
                continue
            solution.graded_at = now
            counts["correct" if solution.is_correct else "wrong"] += 1
        with transaction.atomic():
            Solution.objects.bulk_update(batch, ["is_correct", "graded_at"])
    return counts


def grading_enqueue(project_id: int, *, regrade: bool = False) -> bool:
    """Ask a `default` worker to grade a project. False (and a log line) when the broker is
    down; the watchdog grades what is left once it is back."""
    from labeling.tasks import solutions_grade_task

    try:
        solutions_grade_task.apply_async((project_id,), {"regrade": regrade}, retry=False)
    except Exception as exc:
        logger.warning("could not queue grading of project %s: %s", project_id, exc)
        return False
    return True
