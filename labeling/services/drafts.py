"""Draft saves: every rating as it is made, kept in `Labeling.steps` until the submit
(labeling/services/submission.py). Also what both share: the time and draft checks, and the
answers a stale or expired draft gets."""

import json

from django.db import connection
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from labeling import hot_sql, rating_rules
from labeling.errors import ApplicationError, Conflict, NotFound
from labeling.models import Labeling, LabelingStatus, Project, Solution
from labeling.services.leases import lease_minutes_until

MAX_TOTAL_TIME_MS = 7 * 24 * 3600 * 1000  # a week on one task is a client bug, not a labeling
STALE_DRAFT = "Changed in another tab or window since this page loaded it; reload to see it."
LEASE_EXPIRED = "Your hold on this task expired. Reload the page to take it back if it is free."
NO_SUCH_ASSIGNMENT = "No such assignment."


def time_grown(value, current: int | None) -> int | None:
    """The labeling's total time in ms after a save or submit reporting `value` ms: time only
    grows, so a late or repeated save never takes time away. `value` None keeps `current`;
    ApplicationError when it is not a whole number of ms in [0, MAX_TOTAL_TIME_MS]."""
    if value is None:
        return current
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOTAL_TIME_MS:
        raise ApplicationError("total_time_ms: must be a whole number of milliseconds")
    return max(current or 0, value)


def check_draft(status: str, lease_expires_at, now) -> None:
    """Conflict (409) unless the labeling is a draft whose lease (if any) is live at `now`."""
    if status != LabelingStatus.DRAFT:
        raise Conflict(f"This labeling is {status}; its ratings can no longer change.")
    if lease_expires_at is not None and lease_expires_at <= now:
        raise Conflict(LEASE_EXPIRED)


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
    labeling.draft_revision = result.revision
    return labeling


class DraftSaved:
    __slots__ = ("lease_expires_at", "revision", "steps", "total_time_ms")

    def __init__(self, steps, total_time_ms, lease_expires_at, revision):
        self.steps = steps
        self.total_time_ms = total_time_ms
        self.lease_expires_at = lease_expires_at
        self.revision = revision


class StaleDraft(Conflict):
    """A save or submit based on an older revision of the draft than the stored one (another
    tab or device saved since). `data` is the stored draft, for the client to show or merge:
    `{"code": "stale_draft", "revision": int, "steps": [{"rating", "flagged"}, ...]}`."""

    def __init__(self, revision: int, label_steps: list[dict]):
        super().__init__(STALE_DRAFT)
        self.data = {
            "code": "stale_draft",
            "revision": revision,
            "steps": [
                {"rating": m.rating, "flagged": m.flagged}
                for m in rating_rules.marks_of(label_steps)
            ],
        }


_DRAFT_READ_SQL = """
SELECT l.status, l.lease_expires_at, l.total_time_ms, s.steps, p.lease_minutes, l.steps,
  l.draft_revision
FROM {labeling} l JOIN {solution} s ON s.id = l.solution_id JOIN {project} p ON p.id = l.project_id
WHERE l.id = %s AND l.labeler_id = %s"""
# The save's UPDATE: the lease and updated_at always; the marks and the next revision, or the
# time (never less than stored), when given; only on the user's draft with a live lease, and,
# when the marks change, only at the revision that was read.
_DRAFT_WRITE_SQL = """
UPDATE {labeling} SET lease_expires_at = %s::timestamptz, updated_at = %s::timestamptz{steps}{time}
WHERE id = %s AND labeler_id = %s AND status = 'draft'
  AND (lease_expires_at IS NULL OR lease_expires_at > %s::timestamptz){revision}"""


def _draft_read(user_id: int, assignment_id: int):
    """(status, lease_expires_at, total_time_ms, the solution's step texts, the project's lease
    minutes, the stored label steps, draft_revision) of the user's labeling, or None. On
    PostgreSQL one prepared statement (labeling/hot_sql.py); the ORM elsewhere."""
    if connection.vendor != "postgresql":
        return (
            Labeling.objects.filter(pk=assignment_id, labeler_id=user_id)
            .values_list(
                "status",
                "lease_expires_at",
                "total_time_ms",
                "solution__steps",
                "project__lease_minutes",
                "steps",
                "draft_revision",
            )
            .first()
        )
    sql = _DRAFT_READ_SQL.format(
        labeling=Labeling._meta.db_table,
        solution=Solution._meta.db_table,
        project=Project._meta.db_table,
    )
    with hot_sql.cursor() as cursor:
        cursor.execute(sql, [assignment_id, user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    row = list(row)
    for at in (3, 5):  # Django has psycopg load jsonb as text (JSONField decodes)
        if isinstance(row[at], str):
            row[at] = json.loads(row[at])
    return row


def _draft_write(user_id: int, assignment_id: int, fields: dict, revision: int, now) -> bool:
    """The save's conditional UPDATE of `fields` (lease_expires_at and updated_at; steps and
    draft_revision when the marks change, then only at `revision`; total_time_ms, kept when
    larger). False when no row matched (no longer this user's live draft, or saved since)."""
    if connection.vendor != "postgresql":
        if "total_time_ms" in fields:
            fields = {
                **fields,
                "total_time_ms": Greatest(
                    Coalesce(F("total_time_ms"), Value(0)), Value(fields["total_time_ms"])
                ),
            }
        query = Labeling.objects.filter(
            pk=assignment_id, labeler_id=user_id, status=LabelingStatus.DRAFT
        ).filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__gt=now))
        if "steps" in fields:  # the marks read are still the stored ones
            query = query.filter(draft_revision=revision)
        return bool(query.update(**fields))
    params = [fields["lease_expires_at"], fields["updated_at"]]
    parts = {"steps": "", "time": "", "revision": ""}
    if "steps" in fields:
        parts["steps"] = ", steps = %s, draft_revision = %s"
        params += [connection.ops.adapt_json_value(fields["steps"], None), fields["draft_revision"]]
    if "total_time_ms" in fields:
        parts["time"] = ", total_time_ms = GREATEST(COALESCE(total_time_ms, 0), %s::bigint)"
        params.append(fields["total_time_ms"])
    params += [assignment_id, user_id, now]
    if "steps" in fields:
        parts["revision"] = " AND draft_revision = %s"
        params.append(revision)
    sql = _DRAFT_WRITE_SQL.format(labeling=Labeling._meta.db_table, **parts)
    with hot_sql.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount > 0


def assignment_draft_save(
    *, user_id: int, assignment_id: int, steps=None, total_time_ms=None, revision=None
):
    """Save the draft `assignment_id` of user `user_id` (NotFound when it is not theirs).

    `steps`: the marks `[{"rating": -1/0/1/None, "flagged": bool}, ...]` (rating_rules
    .parse_marks), or None for a save of the time alone (ApplicationError for marks on a
    phase-1 task, whose positions services/phase1.py saves). `revision`: the `draft_revision` the
    client's marks were based on; when the stored draft has moved on and holds other marks,
    StaleDraft (409) carries it back and nothing is written. Marks equal to the stored ones are
    accepted whatever the revision (a retried save whose answer was lost). None skips the check
    (scripts that own their assignment alone). Only what changed is written: marks equal to the
    stored ones leave `steps` and the revision alone (the heartbeat that keeps the time and lease
    current); changed marks bump `draft_revision` by one.

    The hottest request of the platform, so it is two statements and no transaction: one read
    (the ownership check, the draft's state and marks, the solution's step texts and the
    project's lease length, no model objects) and one conditional UPDATE that only changes a row
    that is still this user's draft with a live lease at the revision read. PostgreSQL re-checks
    that condition on the newest row version, so a save racing a submit, an expiry takeover, a
    lead's release or another tab's save changes nothing and is answered 409, exactly as when
    the lock was taken first. Time only grows, in SQL (GREATEST), so out-of-order saves never
    take time away. On PostgreSQL both are hand-written prepared statements (labeling/hot_sql.py:
    the ORM compiled them again on every save, which cost more CPU than PostgreSQL running
    them). Returns DraftSaved(steps, total_time_ms, lease_expires_at, revision)."""
    now = timezone.now()
    row = _draft_read(user_id, assignment_id)
    if row is None:
        raise NotFound(NO_SUCH_ASSIGNMENT)
    status, lease_expires_at, current_time, texts, minutes, stored, stored_revision = row
    check_draft(status, lease_expires_at, now)
    new_lease = lease_minutes_until(minutes, now)
    fields = {"lease_expires_at": new_lease, "updated_at": now}
    label_steps, new_revision = stored, stored_revision
    if steps is not None:
        if not texts:  # a phase-1 task (no pre-generated steps): its positions go elsewhere
            raise ApplicationError(
                f"steps: this is a phase-1 task; save it with PUT "
                f"/api/assignments/{assignment_id}/phase1/"
            )
        try:
            marks = rating_rules.parse_marks(steps, len(texts))
        except rating_rules.DraftError as exc:
            raise ApplicationError(str(exc)) from None
        if marks != rating_rules.marks_of(stored):
            if revision is not None and revision != stored_revision:
                raise StaleDraft(stored_revision, stored)
            label_steps = rating_rules.to_label_steps(texts, marks)
            new_revision = stored_revision + 1
            fields["steps"] = label_steps
            fields["draft_revision"] = new_revision
    new_time = current_time
    if total_time_ms is not None:
        value = time_grown(total_time_ms, 0)
        fields["total_time_ms"] = value
        new_time = max(current_time or 0, value)
    if not _draft_write(user_id, assignment_id, fields, stored_revision, now):
        # it changed since the read: say why, from the row as it is
        status, lease_expires_at, stored, stored_revision = Labeling.objects.filter(
            pk=assignment_id
        ).values_list("status", "lease_expires_at", "steps", "draft_revision").first() or (
            LabelingStatus.ABANDONED,
            None,
            [],
            0,
        )
        check_draft(status, lease_expires_at, now)
        raise StaleDraft(stored_revision, stored)
    # StepRating rows (read by statistics and training, which use submitted labelings only)
    # are written once, at submit.
    return DraftSaved(label_steps, new_time, new_lease, new_revision)
