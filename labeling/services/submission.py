"""Recording what annotators say: draft saves (every rating as it is made) and submit."""

import logging

from django.core.cache import cache
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from labeling import rating_rules
from labeling.errors import ApplicationError, Conflict, NotFound
from labeling.models import GenerationItem, Labeling, LabelingStatus, Membership, StepRating
from labeling.prm800k import iter_ratings
from labeling.project_stats import stats_mark_changed
from labeling.services.assignments import lease_minutes_until
from labeling.services.quality import (
    labeling_score_against_gold,
    quality_control_check_pause,
    screening_status_update,
)
from labeling.tasks import project_stats_refresh

logger = logging.getLogger(__name__)
STATS_REFRESH_DEBOUNCE = 30  # seconds: at most one statistics refresh per project per window
MAX_TOTAL_TIME_MS = 7 * 24 * 3600 * 1000  # a week on one task is a client bug, not a labeling
SUBMIT_FIELDS = [
    "total_time_ms",
    "status",
    "finish_reason",
    "reason",
    "submitted_at",
    "lease_expires_at",
    "updated_at",
]
LEASE_EXPIRED = "Your hold on this task expired. Reload the page to take it back if it is free."


NO_SUCH_ASSIGNMENT = "No such assignment."


def _locked(labeling_id: int, labeler_id: int) -> Labeling:
    """The annotator's labeling, locked, with its solution and project: the ownership check and
    the lock in one statement."""
    labeling = (
        Labeling.objects.select_for_update(of=("self",))
        .select_related("solution", "project")
        .filter(pk=labeling_id, labeler_id=labeler_id)
        .first()
    )
    if labeling is None:
        raise NotFound(NO_SUCH_ASSIGNMENT)
    return labeling


def _time(value, current: int | None) -> int | None:
    """Time only grows: a late or repeated save never takes time away."""
    if value is None:
        return current
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOTAL_TIME_MS:
        raise ApplicationError("total_time_ms: must be a whole number of milliseconds")
    return max(current or 0, value)


def _check_draft(status: str, lease_expires_at, now) -> None:
    if status != LabelingStatus.DRAFT:
        raise Conflict(f"This labeling is {status}; its ratings can no longer change.")
    if lease_expires_at is not None and lease_expires_at <= now:
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
    result = assignment_draft_save(
        user_id=labeling.labeler_id,
        assignment_id=labeling.pk,
        steps=steps,
        total_time_ms=total_time_ms,
    )
    labeling.steps = result.steps
    labeling.total_time_ms = result.total_time_ms
    labeling.lease_expires_at = result.lease_expires_at
    return labeling


class DraftSaved:
    __slots__ = ("lease_expires_at", "steps", "total_time_ms")

    def __init__(self, steps, total_time_ms, lease_expires_at):
        self.steps = steps
        self.total_time_ms = total_time_ms
        self.lease_expires_at = lease_expires_at


def assignment_draft_save(*, user_id: int, assignment_id: int, steps, total_time_ms=None):
    """Save the draft `assignment_id` of user `user_id` (NotFound when it is not theirs).

    The hottest request of the platform, so it is two statements and no transaction: one read
    (the ownership check, the draft's state, the solution's step texts and the project's lease
    length, no model objects) and one conditional UPDATE that only changes a row that is still
    this user's draft with a live lease. PostgreSQL re-checks that condition on the newest row
    version, so a save racing a submit, an expiry takeover or a lead's release changes nothing
    and is answered 409, exactly as when the lock was taken first. Time only grows, in SQL
    (GREATEST), so out-of-order saves never take time away."""
    now = timezone.now()
    row = (
        Labeling.objects.filter(pk=assignment_id, labeler_id=user_id)
        .values_list(
            "status",
            "lease_expires_at",
            "total_time_ms",
            "solution__steps",
            "project__lease_minutes",
        )
        .first()
    )
    if row is None:
        raise NotFound(NO_SUCH_ASSIGNMENT)
    status, lease_expires_at, current_time, texts, minutes = row
    _check_draft(status, lease_expires_at, now)
    try:
        marks = rating_rules.parse_marks(steps, len(texts))
    except rating_rules.DraftError as exc:
        raise ApplicationError(str(exc)) from None
    label_steps = rating_rules.to_label_steps(texts, marks)
    new_lease = lease_minutes_until(minutes, now)
    fields = {"steps": label_steps, "lease_expires_at": new_lease, "updated_at": now}
    new_time = current_time
    if total_time_ms is not None:
        value = _time(total_time_ms, 0)
        fields["total_time_ms"] = Greatest(Coalesce(F("total_time_ms"), Value(0)), Value(value))
        new_time = max(current_time or 0, value)
    updated = (
        Labeling.objects.filter(pk=assignment_id, labeler_id=user_id, status=LabelingStatus.DRAFT)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__gt=now))
        .update(**fields)
    )
    if not updated:  # it changed since the read: say why, from the row as it is now
        status, lease_expires_at = Labeling.objects.filter(pk=assignment_id).values_list(
            "status", "lease_expires_at"
        ).first() or (LabelingStatus.ABANDONED, None)
        _check_draft(status, lease_expires_at, now)
        raise Conflict(LEASE_EXPIRED)
    # StepRating rows (read by statistics and training, which use submitted labelings only)
    # are written once, at submit.
    return DraftSaved(label_steps, new_time, new_lease)


def labeling_submit(
    *, labeling: Labeling, finish_reason: str, reason: str = "", total_time_ms=None
) -> Labeling:
    """End the labeling. Submitting again with the same finish reason changes nothing."""
    return assignment_submit(
        user_id=labeling.labeler_id,
        assignment_id=labeling.pk,
        finish_reason=finish_reason,
        reason=reason,
        total_time_ms=total_time_ms,
    )


def assignment_submit(
    *, user_id: int, assignment_id: int, finish_reason: str, reason: str = "", total_time_ms=None
) -> Labeling:
    """Submit the labeling `assignment_id` of user `user_id` (NotFound when it is not theirs).
    Submitting again with the same finish reason changes nothing."""
    now = timezone.now()
    with transaction.atomic():
        labeling = _locked(assignment_id, user_id)
        if labeling.status == LabelingStatus.SUBMITTED:
            if labeling.finish_reason == finish_reason:
                return labeling  # a double click or a retried request
            raise Conflict(f"Already submitted as {labeling.finish_reason}.")
        _check_draft(labeling.status, labeling.lease_expires_at, now)
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
        labeling.save(update_fields=SUBMIT_FIELDS)
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
            # one UPDATE: the right-hand sides see the row before it, so the item closes when
            # this submit brings it to the overlap
            GenerationItem.objects.filter(
                generation_id=labeling.generation_id, solution_id=labeling.solution_id
            ).update(
                submitted_count=F("submitted_count") + 1,
                is_open=Case(
                    When(submitted_count__gte=labeling.project.overlap - 1, then=Value(False)),
                    default=F("is_open"),
                ),
            )
        transaction.on_commit(lambda: _schedule_stats_refresh(labeling.project_id))
        if not (labeling.is_quality_control or labeling.is_screening):
            transaction.on_commit(lambda: _retrain_trigger(labeling.project_id))
    return labeling


def _retrain_trigger(project_id: int) -> None:
    """The loop's "retrain after every N labelings" trigger; it never raises, and a broker
    that is down leaves the run queued, not the submit failed."""
    from active_learning.pipeline import labels_maybe_trigger

    labels_maybe_trigger(project_id, after_submit=True)


def _schedule_stats_refresh(project_id: int) -> None:
    """Keep the lead dashboard warm. Best effort: a submit never depends on the broker."""
    stats_mark_changed(project_id)
    try:  # the cache is Redis too in production: when Redis is down, both calls fail
        if not cache.add(f"stats-refresh-pending:{project_id}", 1, timeout=STATS_REFRESH_DEBOUNCE):
            return
        project_stats_refresh.apply_async((project_id,), countdown=5, retry=False)
    except Exception:  # the broker is down: the dashboard recomputes on demand instead
        logger.warning("could not queue a statistics refresh for project %s", project_id)
