"""Serving tasks: the next-task rule, leases, and taking an expired task back.

A task in progress is a draft `Labeling` of the annotator (its id is the assignment id) holding a
lease on its slot. The next-task rule, in order (issue "Assignment queue"):

1. the annotator's own unfinished task (an expired lease is taken back if the slot is still free,
   else the draft is closed as abandoned, kept but never exported);
2. screening questions, until the annotator has passed screening (a project without a screening
   set skips this; failing it ends the annotator's work in the project);
3. with probability = the project's QC rate, a gold question they have not done in this
   generation;
4. otherwise the highest-priority solution of the current generation that still needs
   labelings, that they have never labeled, and that is not held by `overlap` live leases plus
   submitted labelings. Priority is selection order (`GenerationItem.rank`), then age.

Atomicity: each candidate solution row is locked (`SELECT ... FOR UPDATE SKIP LOCKED` on
PostgreSQL, so concurrent requests spread over candidates instead of queueing) and its slots are
recounted under the lock before a draft is made. SQLite serialises writers with IMMEDIATE
transactions, which gives the same guarantee.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from labeling.errors import Conflict, NotFound
from labeling.models import (
    Generation,
    GenerationItem,
    GoldLabel,
    Labeling,
    LabelingStatus,
    Membership,
    Project,
    ScreeningStatus,
    Solution,
    User,
)
from labeling.services.quality import screening_status_update

CANDIDATES_PER_TRY = 20  # open items fetched at once; contention past that is rare

NOTHING_LEFT = "nothing_left"
SCREENING_FAILED = "screening_failed"
PAUSED = "paused"
MESSAGES = {
    NOTHING_LEFT: "Nothing to label in {project} right now.",
    SCREENING_FAILED: "You did not pass the screening questions of {project}, so there is no "
    "more work for you there. Your project lead can tell you more.",
    PAUSED: "Your work in {project} is paused because of quality-control results. Your project "
    "lead can resume it.",
}


@dataclass(frozen=True)
class NextTask:
    labeling: Labeling | None
    reason: str = ""  # why there is no task

    def message(self, project: Project) -> str:
        return MESSAGES.get(self.reason, "").format(project=project.name)


def current_generation(project: Project) -> Generation | None:
    """The newest labeling generation (the screening set, -1, is never current)."""
    return project.generations.filter(number__gte=0).order_by("-number").first()


def screening_generation(project: Project) -> Generation | None:
    return project.generations.filter(number=Generation.SCREENING).first()


def default_project(user: User) -> Project | None:
    return user.projects.order_by("membership__id").first()


def lease_until(project: Project, now: datetime) -> datetime:
    return lease_minutes_until(project.lease_minutes, now)


def lease_minutes_until(minutes: int, now: datetime) -> datetime:
    return now + timedelta(minutes=minutes)


def regular(queryset):
    """Labelings that count towards a solution's overlap (not QC or screening repeats)."""
    return queryset.filter(is_quality_control=False, is_screening=False)


def _live_drafts(now: datetime):
    return regular(Labeling.objects.filter(status=LabelingStatus.DRAFT, lease_expires_at__gt=now))


def _lock_solution(solution_id: int) -> bool:
    """Lock the solution row; False when another transaction holds it (PostgreSQL)."""
    queryset = Solution.objects.filter(pk=solution_id)
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True)
    else:
        queryset = queryset.select_for_update()
    return queryset.values_list("pk", flat=True).first() is not None


def _slots_taken(solution_id: int, generation_id: int, now: datetime, excluding=None) -> int:
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


def _new_draft(
    *,
    user: User,
    project: Project,
    solution_id: int,
    generation_id: int,
    now: datetime,
    score: float | None = None,
    quality_control: bool = False,
    screening: bool = False,
) -> Labeling:
    return Labeling.objects.create(
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
    )


def lease_hold(labeling: Labeling, now: datetime | None = None) -> bool:
    """Renew a draft's lease, taking it back if it expired and its slot is still free; close it
    as abandoned otherwise. Call inside a transaction. True when the draft is (again) held."""
    now = now or timezone.now()
    project = labeling.project
    if labeling.lease_expires_at is not None and labeling.lease_expires_at <= now:
        free = labeling.is_quality_control or labeling.is_screening
        if not free and _lock_solution_blocking(labeling.solution_id):
            taken = _slots_taken(
                labeling.solution_id, labeling.generation_id, now, excluding=labeling.pk
            )
            free = taken < project.overlap
        if not free:
            # only a row that is still a draft: a submit that got in first is never undone
            Labeling.objects.filter(pk=labeling.pk, status=LabelingStatus.DRAFT).update(
                status=LabelingStatus.ABANDONED, lease_expires_at=None, updated_at=now
            )
            labeling.status = LabelingStatus.ABANDONED
            labeling.lease_expires_at = None
            return False
    lease = lease_until(project, now)
    if not Labeling.objects.filter(pk=labeling.pk, status=LabelingStatus.DRAFT).update(
        lease_expires_at=lease, updated_at=now
    ):
        return False  # submitted (or released) meanwhile: not a task in progress any more
    labeling.lease_expires_at = lease
    return True


def _lock_solution_blocking(solution_id: int) -> bool:
    Solution.objects.select_for_update().filter(pk=solution_id).values_list("pk").first()
    return True


def assignment_next(
    *,
    user: User,
    project: Project | None = None,
    project_id: int | None = None,
    exclude: tuple[int, ...] = (),
    rng: random.Random | None = None,
) -> NextTask:
    """The annotator's next task (see the module docstring for the rule). `project` (or its
    id) defaults to the annotator's first project; NotFound when they are not a member of it."""
    rng = rng or random
    if project is not None:
        project_id = project.pk
    now = timezone.now()
    with transaction.atomic():
        # One next-task request per annotator and project at a time (a double click must not
        # make two tasks); other annotators are not blocked by this lock. The same statement
        # reads the project and the ids of its screening and current generations.
        memberships = (
            Membership.objects.select_for_update(of=("self",))
            .filter(user=user)
            .select_related("project")
            .annotate(
                screening_id=Subquery(
                    Generation.objects.filter(
                        project_id=OuterRef("project_id"), number=Generation.SCREENING
                    ).values("id")[:1]
                ),
                current_id=Subquery(
                    Generation.objects.filter(project_id=OuterRef("project_id"), number__gte=0)
                    .order_by("-number")
                    .values("id")[:1]
                ),
            )
        )
        if project_id is None:
            membership = memberships.order_by("id").first()
            if membership is None:
                return NextTask(None, NOTHING_LEFT)
        else:
            membership = memberships.filter(project_id=project_id).first()
            if membership is None:
                raise NotFound("No such project.")
        project = membership.project

        drafts = (
            Labeling.objects.filter(project=project, labeler=user, status=LabelingStatus.DRAFT)
            .exclude(pk__in=exclude)
            .order_by("id")
        )
        for draft in drafts:
            draft.project = project
            if lease_hold(draft, now):
                return NextTask(draft)

        if membership.paused:
            return NextTask(None, PAUSED)

        screening_id = membership.screening_id
        if screening_id is not None and membership.screening_status != ScreeningStatus.PASSED:
            labeling = _next_screening(user, project, screening_id, membership, now)
            if labeling is not None:
                return NextTask(labeling)
            if membership.screening_status == ScreeningStatus.FAILED:
                return NextTask(None, SCREENING_FAILED)
            if membership.screening_status != ScreeningStatus.PASSED:
                return NextTask(None, NOTHING_LEFT)  # screening answers still being saved

        generation_id = membership.current_id
        if generation_id is None:
            return NextTask(None, NOTHING_LEFT)
        if project.qc_rate > 0 and rng.random() < project.qc_rate:
            labeling = _next_quality_control(user, project, generation_id, now, rng)
            if labeling is not None:
                return NextTask(labeling)
        labeling = _next_regular(user, project, generation_id, now)
        return NextTask(labeling, "" if labeling else NOTHING_LEFT)


def _gold_solutions(project: Project):
    return GoldLabel.objects.filter(solution__project=project).values("solution_id")


def _next_screening(user, project, screening_id, membership, now) -> Labeling | None:
    done = Labeling.objects.filter(
        project=project, labeler=user, is_screening=True, status=LabelingStatus.SUBMITTED
    ).values("solution_id")
    item = (
        GenerationItem.objects.filter(
            generation_id=screening_id, solution_id__in=_gold_solutions(project)
        )
        .exclude(solution_id__in=done)
        .order_by("rank", "solution_id")
        .first()
    )
    if item is None:
        screening_status_update(membership)
        return None
    return _new_draft(
        user=user,
        project=project,
        solution_id=item.solution_id,
        generation_id=screening_id,
        now=now,
        screening=True,
    )


def _next_quality_control(user, project, generation_id, now, rng) -> Labeling | None:
    screening_set = GenerationItem.objects.filter(
        generation__project=project, generation__number=Generation.SCREENING
    ).values("solution_id")
    done = Labeling.objects.filter(
        labeler=user, generation_id=generation_id, is_quality_control=True
    ).values("solution_id")
    choices = list(
        GoldLabel.objects.filter(solution__project=project)
        .exclude(solution_id__in=screening_set)
        .exclude(solution_id__in=done)
        .values_list("solution_id", flat=True)
    )
    if not choices:
        return None
    return _new_draft(
        user=user,
        project=project,
        solution_id=rng.choice(sorted(choices)),
        generation_id=generation_id,
        now=now,
        quality_control=True,
    )


_CANDIDATES_SQL = """
SELECT gi.solution_id, gi.score FROM {item} gi
WHERE gi.generation_id = %s AND gi.is_open
  AND NOT EXISTS (SELECT 1 FROM {labeling} m WHERE m.labeler_id = %s
                  AND m.solution_id = gi.solution_id)
  AND NOT EXISTS (SELECT 1 FROM {gold} g WHERE g.solution_id = gi.solution_id)
  AND gi.submitted_count + (
      SELECT COUNT(*) FROM {labeling} d WHERE d.solution_id = gi.solution_id
      AND d.status = %s AND d.lease_expires_at > %s
      AND NOT d.is_quality_control AND NOT d.is_screening) < %s
  {tried}
ORDER BY gi.rank, gi.solution_id
LIMIT %s"""


def _candidates(user, project, generation_id, now, tried) -> list[tuple[int, float | None]]:
    """Open items of the generation, best first, that the user never had, that are not gold,
    and whose submitted labelings plus live drafts are under the overlap. Plain SQL: the
    statement is the same on every request, and building it with the ORM cost more CPU than
    running it (it runs in well under a millisecond on the partial index of open items)."""
    sql = _CANDIDATES_SQL.format(
        item=GenerationItem._meta.db_table,
        labeling=Labeling._meta.db_table,
        gold=GoldLabel._meta.db_table,
        tried=f"AND gi.solution_id NOT IN ({', '.join(['%s'] * len(tried))})" if tried else "",
    )
    params = [
        generation_id,
        user.pk,
        LabelingStatus.DRAFT.value,
        connection.ops.adapt_datetimefield_value(now),
        project.overlap,
        *tried,
        CANDIDATES_PER_TRY,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _next_regular(user, project, generation_id, now) -> Labeling | None:
    tried: set[int] = set()
    busy: list[tuple[int, float | None]] = []
    while True:
        batch = _candidates(user, project, generation_id, now, sorted(tried))
        if not batch:
            break
        for solution_id, score in batch:
            tried.add(solution_id)
            try:
                return _claim(user, project, generation_id, now, solution_id, score, wait=False)
            except _Busy:
                busy.append((solution_id, score))  # being given to someone else right now
            except _Full:
                pass
    # Everything free was locked by concurrent requests: wait for those locks in turn rather
    # than answer "nothing left" while work remains.
    for solution_id, score in busy:
        try:
            return _claim(user, project, generation_id, now, solution_id, score, wait=True)
        except _Full:
            pass
    return None


class _Busy(Exception):
    pass


class _Full(Exception):
    pass


def _claim(user, project, generation_id, now, solution_id, score, *, wait: bool) -> Labeling:
    """Lock the solution, recount its slots, and make the draft. Runs in a savepoint, so a
    candidate that cannot be used releases its lock at once (holding it while trying the next
    one could deadlock with a request doing the same in the other order)."""
    with transaction.atomic():
        if wait:
            _lock_solution_blocking(solution_id)
        elif not _lock_solution(solution_id):
            raise _Busy
        if _slots_taken(solution_id, generation_id, now) >= project.overlap:
            raise _Full
        return _new_draft(
            user=user,
            project=project,
            solution_id=solution_id,
            generation_id=generation_id,
            now=now,
            score=score,
        )


def assignment_open(*, labeling: Labeling) -> Labeling:
    """The annotator opened (or reloaded) their task: renew its lease, or take it back after
    expiry when the slot is still free (otherwise it is closed as abandoned)."""
    if labeling.status != LabelingStatus.DRAFT:
        return labeling
    with transaction.atomic():
        locked = (
            Labeling.objects.select_for_update(of=("self",))
            .select_related("project")
            .get(pk=labeling.pk)
        )
        if locked.status == LabelingStatus.DRAFT:
            lease_hold(locked)
    labeling.status = locked.status
    labeling.lease_expires_at = locked.lease_expires_at
    return labeling


def lease_release(*, labeling: Labeling) -> None:
    """A lead frees a held task: the draft is closed as abandoned (kept, never exported) and
    the slot returns to the queue."""
    with transaction.atomic():
        updated = Labeling.objects.filter(pk=labeling.pk, status=LabelingStatus.DRAFT).update(
            status=LabelingStatus.ABANDONED, lease_expires_at=None, updated_at=timezone.now()
        )
    if not updated:
        raise Conflict("That task is no longer in progress.")
