"""Submitting a labeling: the checks, the ratings written as StepRating rows, quality
control and the generation item's count. Draft saves are labeling/services/drafts.py."""

import json
import logging

from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from labeling import hot_sql, phase1_rules, rating_rules
from labeling.errors import ApplicationError, Conflict, NotFound
from labeling.models import (
    GenerationItem,
    Labeling,
    LabelingStatus,
    Membership,
    Project,
    Solution,
    StepRating,
)
from labeling.prm800k import iter_ratings
from labeling.services.after_submit import after_submit
from labeling.services.drafts import NO_SUCH_ASSIGNMENT, StaleDraft, check_draft, time_grown
from labeling.services.quality import (
    labeling_score_against_gold,
    quality_control_check_pause,
    screening_status_update,
)
from labeling.services.step_ratings import step_ratings_write

logger = logging.getLogger(__name__)
SUBMIT_FIELDS = [
    "total_time_ms",
    "status",
    "finish_reason",
    "reason",
    "submitted_at",
    "lease_expires_at",
    "updated_at",
]


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


# The whole submit of a regular labeling as one PostgreSQL statement (data-modifying CTEs): the
# labeling becomes submitted only if it is still the draft that was read (same `updated_at`: no
# save, renewal, release or submit since) with a live lease; then, from the same row, its
# ratings are upserted and its generation item counted (closed when this submit brings it to
# the overlap). No row is returned, and nothing changes, when the condition fails.
_SUBMIT_SQL = """
WITH l AS (
  UPDATE {labeling} SET status = %s, finish_reason = %s, reason = %s,
    submitted_at = %s::timestamptz, lease_expires_at = NULL, updated_at = %s::timestamptz,
    total_time_ms = %s::bigint
  WHERE id = %s AND labeler_id = %s AND status = %s AND updated_at = %s::timestamptz
    AND (lease_expires_at IS NULL OR lease_expires_at > %s::timestamptz)
  RETURNING id, generation_id, solution_id
), r AS (
  INSERT INTO {rating} (labeling_id, step_index, completion_index, rating, flagged)
  SELECT l.id, v.s, v.c, v.r, v.f FROM l,
    unnest(%s::int[], %s::int[], %s::int[], %s::bool[]) AS v(s, c, r, f)
  ON CONFLICT (labeling_id, step_index, completion_index)
  DO UPDATE SET rating = EXCLUDED.rating, flagged = EXCLUDED.flagged
), g AS (
  UPDATE {item} gi SET submitted_count = gi.submitted_count + 1,
    is_open = CASE WHEN gi.submitted_count >= COALESCE(gi.wanted, %s::int + 1) - 1
      THEN false ELSE gi.is_open END
  FROM l WHERE gi.generation_id = l.generation_id AND gi.solution_id = l.solution_id
)
SELECT id FROM l"""


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
    *,
    user_id: int,
    assignment_id: int,
    finish_reason: str,
    reason: str = "",
    total_time_ms=None,
    revision=None,
) -> Labeling:
    """Submit the labeling `assignment_id` of user `user_id` (NotFound when it is not theirs).
    Submitting again with the same finish reason (and, when given, the submitted revision)
    changes nothing. `revision`: the draft
    revision the client last saw; StaleDraft (409) when the stored draft moved on since (the
    client would submit ratings it has not shown), None skips the check.

    On PostgreSQL a regular labeling is submitted in two statements and no explicit
    transaction: a read, then one conditional write (_SUBMIT_SQL) that changes nothing unless
    the labeling is still the draft that was read. When it changed in between (a save racing
    the submit, an expiry, a lead's release), or for quality-control and screening questions
    (scored against gold), and on SQLite, the labeling is locked, read again and written with
    the ORM in one transaction."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        labeling = _submit_unlocked(
            user_id, assignment_id, finish_reason, reason, total_time_ms, revision
        )
        if labeling is not None:
            return labeling
    with transaction.atomic():
        labeling = _locked(assignment_id, user_id)
        if labeling.status == LabelingStatus.SUBMITTED:
            return _already_submitted(labeling, finish_reason, revision)
        reason, labeling.total_time_ms = _submit_checked(
            labeling,
            len(labeling.solution.steps),
            finish_reason,
            reason,
            total_time_ms,
            now,
            revision,
        )
        labeling.status = LabelingStatus.SUBMITTED
        labeling.finish_reason = finish_reason
        labeling.reason = reason
        labeling.submitted_at = now
        labeling.lease_expires_at = None
        labeling.save(update_fields=SUBMIT_FIELDS)
        step_ratings_write(labeling=labeling)
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
                    When(
                        submitted_count__gte=Coalesce(F("wanted"), labeling.project.overlap) - 1,
                        then=Value(False),
                    ),
                    default=F("is_open"),
                ),
            )
        regular = not (labeling.is_quality_control or labeling.is_screening)
        transaction.on_commit(lambda: after_submit(labeling.project_id, regular=regular))
    return labeling


def _already_submitted(labeling: Labeling, finish_reason: str, revision) -> Labeling:
    """A submit of a labeling already submitted (both submit paths): the labeling unchanged
    when it repeats that submit (a double click, a retried request whose answer was lost);
    StaleDraft (409) when `revision` is given and is not the revision that was submitted (a
    stale tab or device would otherwise be told "Submitted" for ratings it never showed);
    Conflict (409) for another finish reason. The revision is checked first."""
    if revision is not None and revision != labeling.draft_revision:
        raise StaleDraft(labeling.draft_revision, labeling.steps)
    if labeling.finish_reason == finish_reason:
        return labeling
    raise Conflict(f"Already submitted as {labeling.finish_reason}.")


def _submit_checked(
    labeling: Labeling,
    step_count: int,
    finish_reason: str,
    reason: str,
    total_time_ms,
    now,
    revision=None,
):
    """Checks common to both submit paths (`step_count`: the solution's steps); returns
    (reason, total time) or raises (StaleDraft when `revision` is given and the stored draft
    moved on since)."""
    check_draft(labeling.status, labeling.lease_expires_at, now)
    if revision is not None and revision != labeling.draft_revision:
        raise StaleDraft(labeling.draft_revision, labeling.steps)
    marks = rating_rules.marks_of(labeling.steps)
    try:
        if step_count == 0:  # no pre-generated steps: a phase-1 task (services/phase1.py)
            reason = phase1_rules.check_submit(labeling.steps, finish_reason, reason)
        else:
            reason = rating_rules.check_submit(marks, step_count, finish_reason, reason)
    except rating_rules.DraftError as exc:
        raise ApplicationError(str(exc)) from None
    return reason, time_grown(total_time_ms, labeling.total_time_ms)


# What the two-statement submit reads: the labeling's own columns (no model join to compile),
# the solution's step count and the project's overlap.
_SUBMIT_READ_FIELDS = (  # attnames
    "id",
    "labeler_id",
    "project_id",
    "solution_id",
    "generation_id",
    "status",
    "finish_reason",
    "reason",
    "lease_expires_at",
    "steps",
    "total_time_ms",
    "is_quality_control",
    "is_screening",
    "updated_at",
    "draft_revision",
)
_SUBMIT_READ_ATTNAMES = frozenset(_SUBMIT_READ_FIELDS)
_SUBMIT_READ_SQL = """
SELECT {columns}, jsonb_array_length(s.steps), p.overlap
FROM {labeling} l JOIN {solution} s ON s.id = l.solution_id JOIN {project} p ON p.id = l.project_id
WHERE l.id = %s AND l.labeler_id = %s"""


def _submit_read(user_id: int, assignment_id: int) -> tuple[Labeling, int, int]:
    """(the labeling with the fields above, its solution's step count, the project's overlap);
    NotFound when it is not the user's. One prepared statement (PostgreSQL); the labeling's
    other fields load on access."""
    meta = Labeling._meta
    # in the model's field order, which Model.from_db expects
    fields = [f for f in meta.concrete_fields if f.attname in _SUBMIT_READ_ATTNAMES]
    columns = ", ".join(f"l.{f.column}" for f in fields)
    sql = _SUBMIT_READ_SQL.format(
        columns=columns,
        labeling=meta.db_table,
        solution=Solution._meta.db_table,
        project=Project._meta.db_table,
    )
    with hot_sql.cursor() as cursor:
        cursor.execute(sql, [assignment_id, user_id])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(NO_SUCH_ASSIGNMENT)
    names = [f.attname for f in fields]
    values = list(row[: len(fields)])
    at = names.index("steps")
    if isinstance(values[at], str):  # Django has psycopg load jsonb as text (JSONField decodes)
        values[at] = json.loads(values[at])
    labeling = Labeling.from_db(connection.alias, names, values)
    return labeling, row[-2], row[-1]


def _submit_unlocked(user_id, assignment_id, finish_reason, reason, total_time_ms, revision):
    """The two-statement submit (PostgreSQL): the labeling, or None when the locked path must
    decide (see assignment_submit)."""
    now = timezone.now()
    labeling, step_count, overlap = _submit_read(user_id, assignment_id)
    if labeling.status == LabelingStatus.SUBMITTED:
        return _already_submitted(labeling, finish_reason, revision)
    if labeling.is_quality_control or labeling.is_screening or labeling.generation_id is None:
        return None
    if labeling.status != LabelingStatus.DRAFT:
        return None  # the locked path says why, from the row as it is then
    reason, total = _submit_checked(
        labeling, step_count, finish_reason, reason, total_time_ms, now, revision
    )
    rows = list(iter_ratings(labeling.steps))
    sql = _SUBMIT_SQL.format(
        labeling=Labeling._meta.db_table,
        rating=StepRating._meta.db_table,
        item=GenerationItem._meta.db_table,
    )
    params = [
        LabelingStatus.SUBMITTED.value,
        finish_reason,
        reason,
        now,
        now,
        total,
        assignment_id,
        user_id,
        LabelingStatus.DRAFT.value,
        labeling.updated_at,
        now,
        [r.step_index for r in rows],
        [r.completion_index for r in rows],
        [r.rating for r in rows],
        [r.flagged for r in rows],
        overlap - 1,
    ]
    with hot_sql.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.fetchone() is None:
            return None
    labeling.status = LabelingStatus.SUBMITTED
    labeling.finish_reason = finish_reason
    labeling.reason = reason
    labeling.submitted_at = labeling.updated_at = now
    labeling.lease_expires_at = None
    labeling.total_time_ms = total
    # at once in autocommit (the usual case); after the commit when a caller's transaction
    # holds this one
    transaction.on_commit(lambda: after_submit(labeling.project_id, regular=True))
    return labeling
