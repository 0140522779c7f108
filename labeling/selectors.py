"""Reads, permission-checked where they take a user."""

import json
from functools import cache

from django.db import connection
from django.db.models import Avg, Count, FloatField, IntegerField, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from labeling import hot_sql
from labeling.errors import NotFound
from labeling.models import (
    Generation,
    GenerationItem,
    GoldLabel,
    HintArm,
    Labeling,
    LabelingStatus,
    Membership,
    Problem,
    Project,
    Role,
    ScreeningStatus,
    Solution,
    User,
)
from labeling.permissions import member_projects
from labeling.rating_rules import marks_of


def projects_for_user(user: User) -> QuerySet[Project]:
    """Projects a user may see: leads and staff see all, others the ones they are members of."""
    return (
        member_projects(user)
        .annotate(
            solution_count=Count("solutions", distinct=True),
            submitted_count=Count(
                "labelings", filter=Q(labelings__status=LabelingStatus.SUBMITTED), distinct=True
            ),
        )
        .order_by("name")
    )


def assignment_for_user(user: User, assignment_id: int) -> Labeling:
    """The user's own draft or submitted labeling; anyone else's is NotFound (a 404)."""
    labeling = (
        Labeling.objects.filter(
            pk=assignment_id,
            labeler=user,
            status__in=OWN_STATUSES,
        )
        .select_related("solution__problem", "generation", "project")
        .first()
    )
    if labeling is None:
        raise NotFound("No such assignment.")
    return labeling


OWN_STATUSES = (LabelingStatus.DRAFT, LabelingStatus.SUBMITTED, LabelingStatus.ABANDONED)
# What opening a task reads (assignment_to_open): the labeling's fields below, its solution's
# steps, the problem's text and reference answer, the generation's number and the project's
# lease length.
_OPEN_FIELDS = frozenset(
    {
        "id",
        "project_id",
        "solution_id",
        "generation_id",
        "status",
        "finish_reason",
        "reason",
        "lease_expires_at",
        "total_time_ms",
        "is_quality_control",
        "is_screening",
        "steps",
        "draft_revision",
        # the PRM hint (labeling/services/hints.py, selectors.hint_view)
        "hint_arm",
        "hint_model_version",
        "hint_first_error",
        "hint_probability",
    }
)
_OPEN_SQL = """
SELECT {columns}, s.problem_id, s.steps, p.text, p.reference_answer, g.number, pr.lease_minutes,
pr.hints_enabled
FROM {labeling} l JOIN {solution} s ON s.id = l.solution_id JOIN {problem} p ON p.id = s.problem_id
JOIN {project} pr ON pr.id = l.project_id LEFT JOIN {generation} g ON g.id = l.generation_id
WHERE l.id = %s AND l.labeler_id = %s AND l.status IN ({statuses})"""


def _partial(model, values: dict):
    """An instance of `model` loaded with `values` (attname -> value) only; Model.from_db takes
    them in the model's field order."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(connection.alias, names, [values[name] for name in names])


def _json(value):
    # Django has psycopg load jsonb as text; JSONField decodes it (as here)
    return json.loads(value) if isinstance(value, str) else value


@cache
def _open_statement() -> tuple[list, str]:
    """(the labeling's fields read, in the model's order, and the SQL) of assignment_to_open;
    built once per process (they depend on the models only)."""
    fields = [f for f in Labeling._meta.concrete_fields if f.attname in _OPEN_FIELDS]
    sql = _OPEN_SQL.format(
        columns=", ".join(f"l.{f.column}" for f in fields),
        labeling=Labeling._meta.db_table,
        solution=Solution._meta.db_table,
        problem=Problem._meta.db_table,
        project=Project._meta.db_table,
        generation=Generation._meta.db_table,
        statuses=", ".join(f"'{status}'" for status in OWN_STATUSES),
    )
    return fields, sql


def assignment_to_open(user: User, assignment_id: int) -> Labeling:
    """`assignment_for_user` for opening a task (`assignments.assignment_open`, then
    `assignment_view`): on PostgreSQL one prepared statement (labeling/hot_sql.py) that reads
    only what those two use, with the solution, problem, generation and project attached
    (other fields load on access); the ORM query elsewhere. NotFound when it is not the user's.
    """
    if connection.vendor != "postgresql":
        return assignment_for_user(user, assignment_id)
    fields, sql = _open_statement()
    with hot_sql.cursor() as cursor:
        cursor.execute(sql, [assignment_id, user.pk])
        row = cursor.fetchone()
    if row is None:
        raise NotFound("No such assignment.")
    values = dict(zip([f.attname for f in fields], row, strict=False))
    values["steps"] = _json(values["steps"])
    problem_id, steps, text, reference_answer, number, lease_minutes, hints = row[len(fields) :]
    labeling = _partial(Labeling, values)
    solution = _partial(
        Solution, {"id": values["solution_id"], "problem_id": problem_id, "steps": _json(steps)}
    )
    solution.problem = _partial(
        Problem, {"id": problem_id, "text": text, "reference_answer": reference_answer}
    )
    labeling.solution = solution
    project_id, generation_id = values["project_id"], values["generation_id"]
    labeling.project = _partial(
        Project, {"id": project_id, "lease_minutes": lease_minutes, "hints_enabled": hints}
    )
    if generation_id is not None:
        labeling.generation = _partial(Generation, {"id": generation_id, "number": number})
    return labeling


def assignment_kind(labeling: Labeling) -> str:
    """What the annotator API says a task is: `screening` or `task`. A quality-control (gold)
    question is a `task` to the annotator who answers it (telling them would let them treat
    gold questions differently); leads and researchers see `is_quality_control` on labelings."""
    return "screening" if labeling.is_screening else "task"


def assignment_view(labeling: Labeling) -> dict:
    """What an annotator may see of their assignment: the problem, its reference answer (shown
    on purpose, as in PRM800K), the steps and their *own* saved draft. Never gold labels, never
    anyone else's ratings, never the reference solution."""
    solution = labeling.solution
    return {
        "id": labeling.pk,
        "kind": assignment_kind(labeling),
        "status": labeling.status,
        "project": labeling.project_id,
        "generation": labeling.generation.number if labeling.generation_id else None,
        "problem": {
            "text": solution.problem.text,
            "reference_answer": solution.problem.reference_answer,
        },
        "steps": list(solution.steps),
        "draft": {
            "steps": [
                {"rating": mark.rating, "flagged": mark.flagged}
                for mark in marks_of(labeling.steps)
            ],
            "total_time_ms": labeling.total_time_ms or 0,
            "revision": labeling.draft_revision,
            "finish_reason": labeling.finish_reason,
            "reason": labeling.reason,
        },
        # the PRM's first-error hint (hinted arm only; docs/model-assisted.md), never a rating
        "hint": hint_view(labeling),
    }


def annotator_project_summaries(user: User) -> list[dict]:
    """Per project of the user: tasks they submitted today, and solutions of the current
    generation they have not labeled yet (what is waiting for them)."""
    summaries = []
    for project in user.projects.order_by("name"):
        summary = annotator_progress(user, project)
        summary["in_progress"] = Labeling.objects.filter(
            project=project, labeler=user, status=LabelingStatus.DRAFT
        ).count()
        summaries.append(summary)
    return summaries


def annotator_progress(user: User, project) -> dict:
    """`{"project", "done_today": int, "waiting": int, "generation": int | None}`: the user's
    submits since local midnight (TIME_ZONE) in the project, and the current generation's
    items the user may still be served: open (not yet brought to the overlap by others), not a
    gold solution, and with no labeling of theirs. Items whose free slots are held by others'
    live leases still count: a lease that runs out gives its slot back. Two or three COUNT
    queries (the task page shows it: "3 done today · 993 waiting")."""
    from labeling.services.assignments import current_generation  # import cycle otherwise

    start_of_day = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    generation = current_generation(project)
    waiting = 0
    if generation is not None:
        labeled = Labeling.objects.filter(project=project, labeler=user).values("solution_id")
        waiting = (
            GenerationItem.objects.filter(generation=generation, is_open=True)
            .exclude(solution_id__in=labeled)
            .exclude(solution_id__in=GoldLabel.objects.values("solution_id"))
            .count()
        )
    return {
        "project": project,
        "done_today": Labeling.objects.filter(
            project=project,
            labeler=user,
            status=LabelingStatus.SUBMITTED,
            submitted_at__gte=start_of_day,
        ).count(),
        "waiting": waiting,
        "generation": generation.number if generation else None,
    }


def queue_overview(project: Project) -> dict:
    """What a lead sees of the queue: per generation solutions waiting / in progress / done,
    live leases, and per annotator quality control and screening."""
    now = timezone.now()
    live = Labeling.objects.filter(
        project=project, status=LabelingStatus.DRAFT, lease_expires_at__gt=now
    )
    in_progress_solutions = live.values("solution_id")
    memberships = Membership.objects.filter(project=project, user__role=Role.ANNOTATOR)
    generations = []
    for generation in project.generations.order_by("number"):
        if generation.number == Generation.SCREENING:
            generations.append({"generation": generation, **_screening_counts(memberships, live)})
            continue
        items = GenerationItem.objects.filter(generation=generation)
        counts = items.aggregate(
            total=Count("id"),
            done=Count("id", filter=Q(is_open=False)),
            in_progress=Count("id", filter=Q(is_open=True, solution_id__in=in_progress_solutions)),
        )
        counts["waiting"] = counts["total"] - counts["done"] - counts["in_progress"]
        generations.append({"generation": generation, **counts})
    leases = [
        {
            "labeling": labeling,
            "held_for": now - labeling.created_at,
            "expires_in": labeling.lease_expires_at - now,
        }
        for labeling in live.select_related("labeler").order_by("created_at")
    ]
    annotators = []
    memberships = memberships.select_related("user")
    qc = {
        row["labeler_id"]: row
        for row in Labeling.objects.filter(
            project=project, is_quality_control=True, status=LabelingStatus.SUBMITTED
        )
        .values("labeler_id")
        .annotate(
            n=Count("id"),
            agreement=Avg("gold_agreement"),
            first_error=Avg(Cast(Cast("gold_first_error_match", IntegerField()), FloatField())),
        )
    }
    for membership in memberships.order_by("user__username"):
        annotators.append({"membership": membership, "qc": qc.get(membership.user_id)})
    return {
        "generations": generations,
        "leases": leases,
        "annotators": annotators,
        "quality_control": quality_control_setup(project),
    }


def _screening_counts(memberships, live) -> dict:
    """The screening row of the queue page counts annotators (every annotator answers every
    screening question, so its items never close): done = passed or failed (the statistics
    page's screening result), in progress = not finished and holding a screening question,
    waiting = the other annotators. Two queries."""
    counts = memberships.aggregate(
        total=Count("id"),
        done=Count("id", filter=~Q(screening_status=ScreeningStatus.PENDING)),
    )
    counts["in_progress"] = (
        memberships.filter(screening_status=ScreeningStatus.PENDING)
        .filter(user_id__in=live.filter(is_screening=True).values("labeler_id"))
        .count()
    )
    counts["waiting"] = counts["total"] - counts["done"] - counts["in_progress"]
    return counts


def quality_control_setup(project: Project) -> dict:
    """How many screening questions and gold (quality-control) questions the project has, so
    that pages show screening and QC columns only where they mean something. Two queries."""
    screening_set = GenerationItem.objects.filter(
        generation__project=project, generation__number=Generation.SCREENING
    ).values("solution_id")
    gold = GoldLabel.objects.filter(solution__project=project)
    return {
        "screening_questions": gold.filter(solution_id__in=screening_set).count(),
        "gold_questions": gold.exclude(solution_id__in=screening_set).count(),
    }


def project_members(project: Project) -> list[Membership]:
    """The project's memberships with their users, by role then name (one query)."""
    return list(
        Membership.objects.filter(project=project)
        .select_related("user")
        .order_by("user__role", "user__username")
    )


def unlabeled_solutions(project: Project) -> QuerySet[Solution]:
    """A project's solutions that nobody has labeled: with steps (not a phase-1 task, which is
    the problem alone), no submitted or draft labeling, not gold, not in the screening set.
    The loop's candidate pool (active_learning/loop/candidates.py) and the generator's count
    of a problem's candidates (active_learning/generator/services.py) are this set."""
    labeled = Labeling.objects.filter(
        project=project, status__in=[LabelingStatus.SUBMITTED, LabelingStatus.DRAFT]
    ).values("solution_id")
    gold = GoldLabel.objects.filter(solution__project=project).values("solution_id")
    screening = GenerationItem.objects.filter(
        generation__project=project, generation__number=Generation.SCREENING
    ).values("solution_id")
    return (
        Solution.objects.filter(project=project)
        .exclude(steps=[])
        .exclude(pk__in=labeled)
        .exclude(pk__in=gold)
        .exclude(pk__in=screening)
    )


def hint_view(labeling: Labeling) -> dict | None:
    """`{"model_version": int, "first_error": int (0-based step, -1: none),
    "probability": float | None}` for a task of the hinted arm whose hint was recorded, while
    the project has hints on; None otherwise (the unhinted arm is never shown its record)."""
    if (
        not labeling.project.hints_enabled
        or labeling.hint_arm != HintArm.HINTED
        or labeling.hint_model_version is None
    ):
        return None
    return {
        "model_version": labeling.hint_model_version,
        "first_error": labeling.hint_first_error,
        "probability": labeling.hint_probability,
    }
