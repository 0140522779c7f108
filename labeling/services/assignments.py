"""Serving tasks: the next-task rule, leases, and taking an expired task back.

A task in progress is a draft `Labeling` of the annotator (its id is the assignment id) holding a
lease on its slot. The next-task rule, in order (issue "Assignment queue"):

1. the annotator's own unfinished task not in `exclude` (an expired lease is taken back if the
   slot is still free, else the draft is closed as abandoned, kept but never exported); with
   MAX_HELD live tasks held, all excluded, the newest of them (no third lease);
2. screening questions, until the annotator has passed screening (a project without a screening
   set skips this; failing it ends the annotator's work in the project);
3. with probability = the project's QC rate, a gold question they have not done in this
   generation;
4. otherwise the highest-priority solution of the current generation that still needs
   labelings, that they have never labeled, and that is not held by `overlap` live leases plus
   submitted labelings. Priority is selection order (`GenerationItem.rank`), then age.

No source makes a draft of a solution the annotator holds or submitted (a gold question answered
in an earlier generation aside); a task made with a non-empty `exclude` is a look-ahead with a
short lease until opened (leases.look_ahead).

Atomicity: each candidate solution row is locked (`SELECT ... FOR UPDATE SKIP LOCKED` on
PostgreSQL, so concurrent requests spread over candidates instead of queueing) and its slots are
recounted under the lock before a draft is made. SQLite serialises writers with IMMEDIATE
transactions, which gives the same guarantee.
"""

import random
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from labeling import hot_sql
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
    User,
)
from labeling.services.claims import claim_fast, next_regular
from labeling.services.leases import (
    MAX_HELD,
    held_drafts,
    lease_is_fresh,
    lease_minutes_until,
    lease_until,
    lock_solution_blocking,
    look_ahead,
    new_draft,
    slots_taken,
    slots_wanted,
)
from labeling.services.quality import screening_status_update

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


def lease_hold(labeling: Labeling, now: datetime | None = None) -> bool:
    """Renew a draft's lease, taking it back if it expired and its slot is still free; close it
    as abandoned otherwise. Call inside a transaction. True when the draft is (again) held."""
    now = now or timezone.now()
    project = labeling.project
    if labeling.lease_expires_at is not None and labeling.lease_expires_at <= now:
        free = labeling.is_quality_control or labeling.is_screening
        if not free and lock_solution_blocking(labeling.solution_id):
            taken = slots_taken(
                labeling.solution_id, labeling.generation_id, now, excluding=labeling.pk
            )
            free = taken < slots_wanted(project, labeling.generation_id, labeling.solution_id)
        if not free:
            # only a row that is still a draft: a submit that got in first is never undone
            Labeling.objects.filter(pk=labeling.pk, status=LabelingStatus.DRAFT).update(
                status=LabelingStatus.ABANDONED, lease_expires_at=None, updated_at=now
            )
            labeling.status = LabelingStatus.ABANDONED
            labeling.lease_expires_at = None
            return False
    if lease_is_fresh(labeling.lease_expires_at, project.lease_minutes, now):
        return labeling.status == LabelingStatus.DRAFT  # read in this transaction
    lease = lease_until(project, now)
    if not Labeling.objects.filter(pk=labeling.pk, status=LabelingStatus.DRAFT).update(
        lease_expires_at=lease, updated_at=now
    ):
        return False  # submitted (or released) meanwhile: not a task in progress any more
    labeling.lease_expires_at = lease
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
    if project is not None:
        project_id = project.pk
    try:
        return _assignment_next(user, project_id, tuple(exclude), rng or random)
    except IntegrityError:  # a unique draft made meanwhile by a request the lock did not cover
        raise Conflict("Another request took a task for you at the same time; ask again.") from None


def _assignment_next(user, project_id, exclude, rng) -> NextTask:
    now = timezone.now()
    with transaction.atomic():
        # One next-task request per annotator and project at a time (a double click must not
        # make two tasks); other annotators are not blocked by this lock. The same statement
        # reads the project, the ids of its screening and current generations and whether a
        # task is in progress. None: not a member (of that project, or of any).
        membership = _membership_locked(user, project_id, exclude)
        if membership is None:
            if project_id is None:
                return NextTask(None, NOTHING_LEFT)
            raise NotFound("No such project.")
        project = membership.project

        if membership.draft_id is not None:
            drafts = (
                Labeling.objects.filter(project=project, labeler=user, status=LabelingStatus.DRAFT)
                .exclude(pk__in=exclude)
                .order_by("id")
            )
            for draft in drafts:
                draft.project = project
                if lease_hold(draft, now):
                    return NextTask(draft)
        if exclude:
            # at most MAX_HELD tasks at once: asking past that answers the newest one held
            held = held_drafts(user, project, now)
            if len(held) >= MAX_HELD:
                return NextTask(held[-1])

        if membership.paused:
            return NextTask(None, PAUSED)

        screening_id = membership.screening_id
        if screening_id is not None and membership.screening_status != ScreeningStatus.PASSED:
            labeling = _next_screening(user, project, screening_id, membership, now)
            if labeling is not None:
                return NextTask(look_ahead(labeling, exclude, now))
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
                return NextTask(look_ahead(labeling, exclude, now))
        labeling = claim_fast(user, project, generation_id, now)
        if labeling is None:
            labeling = next_regular(user, project, generation_id, now)
        if labeling is None:
            return NextTask(None, NOTHING_LEFT)
        return NextTask(look_ahead(labeling, exclude, now))


_MEMBERSHIP_SQL = """
SELECT {columns},
  (SELECT g.id FROM {generation} g WHERE g.project_id = m.project_id AND g.number = %s LIMIT 1),
  (SELECT g.id FROM {generation} g WHERE g.project_id = m.project_id AND g.number >= 0
   ORDER BY g.number DESC LIMIT 1),
  (SELECT l.id FROM {labeling} l WHERE l.project_id = m.project_id AND l.labeler_id = m.user_id
   AND l.status = %s{exclude} ORDER BY l.id LIMIT 1)
FROM {membership} m JOIN {project} p ON p.id = m.project_id
WHERE m.user_id = %s{project_filter}
ORDER BY m.id LIMIT 1
FOR UPDATE OF m"""


def _membership_locked(user, project_id, exclude) -> Membership | None:
    """The user's membership of `project_id` (their first one when None), locked, with its
    project and the annotations screening_id, current_id and draft_id (the first draft not
    in `exclude`). On PostgreSQL one prepared statement (the ORM spent more CPU compiling it
    than PostgreSQL running it; psycopg returns every column of these two models in its
    Python type, so the rows become model instances without converters); elsewhere the same
    through the ORM."""
    m_fields = Membership._meta.concrete_fields
    p_fields = Project._meta.concrete_fields
    if connection.vendor != "postgresql" or any(
        f.get_db_converters(connection) for f in (*m_fields, *p_fields)
    ):  # (a field that needs a converter, say a JSONField, would come back raw here)
        return _membership_locked_orm(user, project_id, exclude)
    quote = connection.ops.quote_name
    columns = [f"m.{quote(f.column)}" for f in m_fields] + [
        f"p.{quote(f.column)}" for f in p_fields
    ]
    sql = _MEMBERSHIP_SQL.format(
        columns=", ".join(columns),
        generation=quote(Generation._meta.db_table),
        labeling=quote(Labeling._meta.db_table),
        membership=quote(Membership._meta.db_table),
        project=quote(Project._meta.db_table),
        exclude=f" AND l.id NOT IN ({', '.join(['%s'] * len(exclude))})" if exclude else "",
        project_filter=" AND m.project_id = %s" if project_id is not None else "",
    )
    params = [Generation.SCREENING, LabelingStatus.DRAFT.value, *exclude, user.pk]
    if project_id is not None:
        params.append(project_id)
    with hot_sql.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    n = len(m_fields)
    membership = Membership.from_db(connection.alias, [f.attname for f in m_fields], row[:n])
    project = Project.from_db(
        connection.alias, [f.attname for f in p_fields], row[n : n + len(p_fields)]
    )
    membership.project = project
    membership.screening_id, membership.current_id, membership.draft_id = row[-3:]
    return membership


def _membership_locked_orm(user, project_id, exclude) -> Membership | None:
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
            draft_id=Subquery(
                Labeling.objects.filter(
                    project_id=OuterRef("project_id"),
                    labeler_id=OuterRef("user_id"),
                    status=LabelingStatus.DRAFT,
                )
                .exclude(pk__in=exclude)
                .order_by("id")
                .values("id")[:1]
            ),
        )
    )
    if project_id is not None:
        memberships = memberships.filter(project_id=project_id)
    return memberships.order_by("id").first()


def _gold_solutions(project: Project):
    return GoldLabel.objects.filter(solution__project=project).values("solution_id")


def _had(user):
    """The solutions the user holds a draft of or submitted a labeling of (of any kind): never
    served to them again (an abandoned draft may be)."""
    return Labeling.objects.filter(
        labeler=user, status__in=[LabelingStatus.DRAFT, LabelingStatus.SUBMITTED]
    ).values("solution_id")


def _next_screening(user, project, screening_id, membership, now) -> Labeling | None:
    done = _had(user)
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
    return new_draft(
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
        .exclude(solution_id__in=_had(user).filter(status=LabelingStatus.DRAFT))
        .values_list("solution_id", flat=True)
    )
    if not choices:
        return None
    return new_draft(
        user=user,
        project=project,
        solution_id=rng.choice(sorted(choices)),
        generation_id=generation_id,
        now=now,
        quality_control=True,
    )


def assignment_open(*, labeling: Labeling) -> Labeling:
    """The annotator opened (or reloaded) their task: renew its lease, or take it back after
    expiry when the slot is still free (otherwise it is closed as abandoned)."""
    if labeling.status != LabelingStatus.DRAFT:
        return labeling
    now = timezone.now()
    expires_at, minutes = labeling.lease_expires_at, labeling.project.lease_minutes
    if expires_at is not None and expires_at > now:  # held: renew, unless renewed just now
        if lease_is_fresh(expires_at, minutes, now):
            return labeling
        lease = lease_minutes_until(minutes, now)
        # one conditional UPDATE, no lock: it only extends a lease that is still live on the
        # newest row version, so it never revives a draft whose slot was given away
        if Labeling.objects.filter(
            pk=labeling.pk, status=LabelingStatus.DRAFT, lease_expires_at__gt=now
        ).update(lease_expires_at=lease, updated_at=now):
            labeling.lease_expires_at = lease
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
