"""Serving tasks to annotators and recording what they say: next task, draft saves, submit.

A task in progress is a draft `Labeling` of the annotator (its id is the assignment id). Every
rating is saved as it is made; submit is idempotent.
"""

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from labeling import rating_rules
from labeling.errors import ApplicationError, Conflict, NotFound
from labeling.models import (
    Generation,
    GenerationItem,
    Labeling,
    LabelingStatus,
    Project,
    StepRating,
    User,
)
from labeling.prm800k import iter_ratings

MAX_TOTAL_TIME_MS = 7 * 24 * 3600 * 1000  # a week on one task is a client bug, not a labeling


def current_generation(project: Project) -> Generation | None:
    """The newest labeling generation (screening, -1, is never current)."""
    top = project.generations.filter(number__gte=0).aggregate(top=Max("number"))["top"]
    if top is None:
        return None
    return project.generations.get(number=top)


def default_project(user: User) -> Project | None:
    return user.projects.order_by("membership__id").first()


def assignment_next(
    *, user: User, project: Project | None = None, exclude: tuple[int, ...] = ()
) -> Labeling | None:
    """The annotator's next task: their own unfinished one first, else the highest-priority
    solution of the current generation that they have not labeled. None when nothing is left."""
    if project is None:
        project = default_project(user)
        if project is None:
            return None
    elif not project.members.filter(pk=user.pk).exists():
        raise NotFound("No such project.")
    with transaction.atomic():
        # Serialise next-task requests of one annotator (a double click must not make two).
        User.objects.select_for_update().filter(pk=user.pk).first()
        draft = (
            Labeling.objects.filter(project=project, labeler=user, status=LabelingStatus.DRAFT)
            .exclude(pk__in=exclude)
            .order_by("id")
            .first()
        )
        if draft is not None:
            return draft
        generation = current_generation(project)
        if generation is None:
            return None
        labeled = Labeling.objects.filter(project=project, labeler=user).values("solution_id")
        item = (
            GenerationItem.objects.filter(generation=generation)
            .exclude(solution_id__in=labeled)
            .order_by("rank", "solution_id")
            .first()
        )
        if item is None:
            return None
        return Labeling.objects.create(
            project=project,
            solution_id=item.solution_id,
            labeler=user,
            generation=generation,
            status=LabelingStatus.DRAFT,
            steps=[],
            total_time_ms=0,
            verifier_score=item.score,
        )


def _locked(labeling: Labeling) -> Labeling:
    return (
        Labeling.objects.select_for_update(of=("self",))
        .select_related("solution")
        .get(pk=labeling.pk)
    )


def _time(value, current: int | None) -> int | None:
    """Time only grows: a late or repeated save never takes time away."""
    if value is None:
        return current
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOTAL_TIME_MS:
        raise ApplicationError("total_time_ms: must be a whole number of milliseconds")
    return max(current or 0, value)


def _write_ratings(labeling: Labeling) -> None:
    StepRating.objects.filter(labeling=labeling).delete()
    StepRating.objects.bulk_create(
        StepRating(
            labeling=labeling,
            step_index=row.step_index,
            completion_index=row.completion_index,
            rating=row.rating,
            flagged=row.flagged,
        )
        for row in iter_ratings(labeling.steps)
    )


def draft_save(*, labeling: Labeling, steps, total_time_ms=None) -> Labeling:
    """Replace the draft's ratings and flags (and advance its time)."""
    with transaction.atomic():
        labeling = _locked(labeling)
        if labeling.status != LabelingStatus.DRAFT:
            raise Conflict(f"This labeling is {labeling.status}; its ratings can no longer change.")
        texts = labeling.solution.steps
        try:
            marks = rating_rules.parse_marks(steps, len(texts))
        except rating_rules.DraftError as exc:
            raise ApplicationError(str(exc)) from None
        labeling.steps = rating_rules.to_label_steps(texts, marks)
        labeling.total_time_ms = _time(total_time_ms, labeling.total_time_ms)
        labeling.save(update_fields=["steps", "total_time_ms", "updated_at"])
        _write_ratings(labeling)
    return labeling


def labeling_submit(
    *, labeling: Labeling, finish_reason: str, reason: str = "", total_time_ms=None
) -> Labeling:
    """End the labeling. Submitting again with the same finish reason changes nothing."""
    with transaction.atomic():
        labeling = _locked(labeling)
        if labeling.status == LabelingStatus.SUBMITTED:
            if labeling.finish_reason == finish_reason:
                return labeling  # a double click or a retried request
            raise Conflict(f"Already submitted as {labeling.finish_reason}.")
        if labeling.status != LabelingStatus.DRAFT:
            raise Conflict(f"This labeling is {labeling.status} and cannot be submitted.")
        marks = rating_rules.marks_of(labeling.steps)
        try:
            reason = rating_rules.check_submit(
                marks, len(labeling.solution.steps), finish_reason, reason
            )
        except rating_rules.DraftError as exc:
            raise ApplicationError(str(exc)) from None
        labeling.total_time_ms = _time(total_time_ms, labeling.total_time_ms)
        labeling.status = LabelingStatus.SUBMITTED
        labeling.finish_reason = finish_reason
        labeling.reason = reason
        labeling.submitted_at = timezone.now()
        labeling.save()
    return labeling
