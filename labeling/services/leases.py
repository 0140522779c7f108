"""Leases and slots of the task queue: how long a draft holds its solution's slot, which
labelings count towards a solution's overlap, locking a solution row and counting its taken
slots under the lock, and making the draft. The building blocks of labeling/services/
assignments.py (the next-task rule) and claims.py (taking an open queue item under contention).
"""

from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Q

from labeling.models import GenerationItem, Labeling, LabelingStatus, Project, Solution, User
from labeling.services.hints import task_hint_arm

# A lease renewed this recently is not renewed again (opening the task just after `next`, or
# reloading it, writes nothing): the hold is at most this much shorter than a full lease.
LEASE_RENEW_AFTER = timedelta(seconds=60)


# Tasks an annotator holds at once in a project: the one open plus one look-ahead (the task page
# fetches the next task while the current one is finished, excluding the current one).
MAX_HELD = 2
# The lease of a look-ahead until it is opened (look_ahead below).
LOOK_AHEAD_LEASE = timedelta(minutes=5)


def held_drafts(user: User, project: Project, now: datetime) -> list[Labeling]:
    """The user's drafts in `project` whose lease is live at `now`, oldest first (one query)."""
    return list(
        Labeling.objects.filter(
            project=project, labeler=user, status=LabelingStatus.DRAFT, lease_expires_at__gt=now
        ).order_by("id")
    )


def lease_until(project: Project, now: datetime) -> datetime:
    return lease_minutes_until(project.lease_minutes, now)


def lease_minutes_until(minutes: int, now: datetime) -> datetime:
    return now + timedelta(minutes=minutes)


def regular(queryset):
    """Labelings that count towards a solution's overlap (not QC or screening repeats)."""
    return queryset.filter(is_quality_control=False, is_screening=False)


def live_drafts(now: datetime):
    return regular(Labeling.objects.filter(status=LabelingStatus.DRAFT, lease_expires_at__gt=now))


def lock_solution(solution_id: int) -> bool:
    """Lock the solution row; False when another transaction holds it (PostgreSQL)."""
    queryset = Solution.objects.filter(pk=solution_id)
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True)
    else:
        queryset = queryset.select_for_update()
    return queryset.values_list("pk", flat=True).first() is not None


def slots_taken(solution_id: int, generation_id: int, now: datetime, excluding=None) -> int:
    """Submitted labelings in the generation plus live drafts, counted in ONE statement: a
    submit turns a draft into a submitted labeling without touching the solution's lock, and
    two separate counts could each miss it."""
    taken = regular(Labeling.objects.filter(solution_id=solution_id)).filter(
        Q(status=LabelingStatus.SUBMITTED, generation_id=generation_id)
        | Q(status=LabelingStatus.DRAFT, lease_expires_at__gt=now)
    )
    if excluding is not None:
        taken = taken.exclude(pk=excluding)
    return taken.count()


def slots_wanted(project: Project, generation_id: int | None, solution_id: int) -> int:
    """Labelings the solution's item in the generation wants: its `wanted` (a
    disagreement-queue item), else the project's overlap. One query."""
    wanted = (
        GenerationItem.objects.filter(generation_id=generation_id, solution_id=solution_id)
        .values_list("wanted", flat=True)
        .first()
    )
    return project.overlap if wanted is None else wanted


def draft_build(
    *,
    user: User,
    project: Project,
    solution_id: int,
    generation_id: int | None,
    now: datetime,
    score: float | None = None,
    quality_control: bool = False,
    screening: bool = False,
) -> Labeling:
    """An unsaved draft labeling of `solution_id` for `user`: no steps, no time, leased from
    `now` (the project's lease), in its hint arm. new_draft saves it; claims.py inserts it only
    while the solution has a free slot."""
    return Labeling(
        project=project,
        solution_id=solution_id,
        labeler=user,
        generation_id=generation_id,
        status=LabelingStatus.DRAFT,
        steps=[],
        total_time_ms=0,
        verifier_score=score,
        is_quality_control=quality_control,
        is_screening=screening,
        lease_expires_at=lease_until(project, now),
        hint_arm=task_hint_arm(
            project=project, user_id=user.pk, solution_id=solution_id, screening=screening
        ),
    )


def new_draft(**fields) -> Labeling:
    """draft_build(**fields), saved (one INSERT). Keyword arguments: draft_build's."""
    labeling = draft_build(**fields)
    labeling.save(force_insert=True)
    return labeling


def lease_is_fresh(expires_at: datetime | None, minutes: int, now: datetime) -> bool:
    """True when a lease of `minutes` minutes was (re)newed less than LEASE_RENEW_AFTER ago, so
    renewing it now would only rewrite the row."""
    return expires_at is not None and expires_at >= lease_minutes_until(minutes, now) - (
        LEASE_RENEW_AFTER
    )


def lock_solution_blocking(solution_id: int) -> bool:
    Solution.objects.select_for_update().filter(pk=solution_id).values_list("pk").first()
    return True


def look_ahead(labeling: Labeling, exclude, now) -> Labeling:
    """`labeling`, a task the next-task rule just made. One made while `exclude` is not empty
    is a look-ahead (the task page fetches the next task before this one is submitted): its
    lease is cut to LOOK_AHEAD_LEASE until it is opened (assignment_open then gives it the
    project's full lease), so a tab closed with a look-ahead unopened blocks a slot for at most
    that long. One UPDATE, look-aheads only."""
    if exclude:
        lease = min(labeling.lease_expires_at, now + LOOK_AHEAD_LEASE)
        Labeling.objects.filter(pk=labeling.pk).update(lease_expires_at=lease)
        labeling.lease_expires_at = lease
    return labeling
