"""Recording what annotators say: draft saves (every rating as it is made) and submit."""

import logging

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from labeling import rating_rules
from labeling.errors import ApplicationError, Conflict
from labeling.models import GenerationItem, Labeling, LabelingStatus, Membership, StepRating
from labeling.prm800k import iter_ratings
from labeling.services.assignments import lease_until
from labeling.services.quality import (
    labeling_score_against_gold,
    quality_control_check_pause,
    screening_status_update,
)
from labeling.tasks import project_stats_refresh

logger = logging.getLogger(__name__)
STATS_REFRESH_DEBOUNCE = 30  # seconds: at most one statistics refresh per project per window
MAX_TOTAL_TIME_MS = 7 * 24 * 3600 * 1000  # a week on one task is a client bug, not a labeling
LEASE_EXPIRED = "Your hold on this task expired. Reload the page to take it back if it is free."


def _locked(labeling: Labeling) -> Labeling:
    return (
        Labeling.objects.select_for_update(of=("self",))
        .select_related("solution", "project")
        .get(pk=labeling.pk)
    )


def _time(value, current: int | None) -> int | None:
    """Time only grows: a late or repeated save never takes time away."""
    if value is None:
        return current
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOTAL_TIME_MS:
        raise ApplicationError("total_time_ms: must be a whole number of milliseconds")
    return max(current or 0, value)


def _check_draft(labeling: Labeling, now) -> None:
    if labeling.status != LabelingStatus.DRAFT:
        raise Conflict(f"This labeling is {labeling.status}; its ratings can no longer change.")
    if labeling.lease_expires_at is not None and labeling.lease_expires_at <= now:
        raise Conflict(LEASE_EXPIRED)


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
    """Replace the draft's ratings and flags (kept in `Labeling.steps`), advance its time and
    renew its lease."""
    now = timezone.now()
    with transaction.atomic():
        labeling = _locked(labeling)
        _check_draft(labeling, now)
        texts = labeling.solution.steps
        try:
            marks = rating_rules.parse_marks(steps, len(texts))
        except rating_rules.DraftError as exc:
            raise ApplicationError(str(exc)) from None
        labeling.steps = rating_rules.to_label_steps(texts, marks)
        labeling.total_time_ms = _time(total_time_ms, labeling.total_time_ms)
        labeling.lease_expires_at = lease_until(labeling.project, now)
        labeling.save(update_fields=["steps", "total_time_ms", "lease_expires_at", "updated_at"])
    # StepRating rows (read by statistics and training, which use submitted labelings only)
    # are written once, at submit: a draft save stays two statements on the hot path.
    return labeling


def labeling_submit(
    *, labeling: Labeling, finish_reason: str, reason: str = "", total_time_ms=None
) -> Labeling:
    """End the labeling. Submitting again with the same finish reason changes nothing."""
    now = timezone.now()
    with transaction.atomic():
        labeling = _locked(labeling)
        if labeling.status == LabelingStatus.SUBMITTED:
            if labeling.finish_reason == finish_reason:
                return labeling  # a double click or a retried request
            raise Conflict(f"Already submitted as {labeling.finish_reason}.")
        _check_draft(labeling, now)
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
        labeling.submitted_at = now
        labeling.lease_expires_at = None
        labeling.save()
        _write_ratings(labeling)
        if labeling.is_quality_control or labeling.is_screening:
            labeling_score_against_gold(labeling)
            membership = Membership.objects.select_related("project", "user").get(
                project=labeling.project, user=labeling.labeler_id
            )
            if labeling.is_screening:
                screening_status_update(membership)
            else:
                quality_control_check_pause(membership)
        elif labeling.generation_id is not None:
            overlap = labeling.project.overlap
            items = GenerationItem.objects.filter(
                generation_id=labeling.generation_id, solution_id=labeling.solution_id
            )
            items.update(submitted_count=F("submitted_count") + 1)
            items.filter(submitted_count__gte=overlap).update(is_open=False)
        transaction.on_commit(lambda: _schedule_stats_refresh(labeling.project_id))
        if not (labeling.is_quality_control or labeling.is_screening):
            transaction.on_commit(lambda: _retrain_trigger(labeling.project_id))
    return labeling


def _retrain_trigger(project_id: int) -> None:
    """The loop's "retrain after every N labelings" trigger; it never raises, and a broker
    that is down leaves the run queued, not the submit failed."""
    from active_learning.pipeline import labels_maybe_trigger

    labels_maybe_trigger(project_id)


def _schedule_stats_refresh(project_id: int) -> None:
    """Keep the lead dashboard warm. Best effort: a submit never depends on the broker."""
    try:  # the cache is Redis too in production: when Redis is down, both calls fail
        if not cache.add(f"stats-refresh-pending:{project_id}", 1, timeout=STATS_REFRESH_DEBOUNCE):
            return
        project_stats_refresh.apply_async((project_id,), countdown=5, retry=False)
    except Exception:  # the broker is down: the dashboard recomputes on demand instead
        logger.warning("could not queue a statistics refresh for project %s", project_id)
