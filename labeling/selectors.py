"""Reads, permission-checked where they take a user."""

from django.db.models import Avg, Count, FloatField, IntegerField, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from labeling.errors import NotFound
from labeling.models import (
    GenerationItem,
    Labeling,
    LabelingStatus,
    Membership,
    Project,
    Role,
    User,
)
from labeling.rating_rules import marks_of


def projects_for_user(user: User) -> QuerySet[Project]:
    """Projects a user may see: leads and staff see all, others the ones they are members of."""
    projects = Project.objects.all()
    if not (user.is_superuser or user.role == Role.LEAD):
        projects = projects.filter(members=user)
    return projects.annotate(
        solution_count=Count("solutions", distinct=True),
        submitted_count=Count(
            "labelings", filter=Q(labelings__status=LabelingStatus.SUBMITTED), distinct=True
        ),
    ).order_by("name")


def assignment_for_user(user: User, assignment_id: int) -> Labeling:
    """The user's own draft or submitted labeling; anyone else's is NotFound (a 404)."""
    labeling = (
        Labeling.objects.filter(
            pk=assignment_id,
            labeler=user,
            status__in=[LabelingStatus.DRAFT, LabelingStatus.SUBMITTED, LabelingStatus.ABANDONED],
        )
        .select_related("solution__problem", "generation", "project")
        .first()
    )
    if labeling is None:
        raise NotFound("No such assignment.")
    return labeling


def assignment_kind(labeling: Labeling) -> str:
    if labeling.is_screening:
        return "screening"
    if labeling.is_quality_control:
        return "quality_control"
    return "task"


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
            "finish_reason": labeling.finish_reason,
            "reason": labeling.reason,
        },
    }


def annotator_project_summaries(user: User) -> list[dict]:
    """Per project of the user: tasks they submitted today, and solutions of the current
    generation they have not labeled yet (what is waiting for them)."""
    from labeling.services.assignments import current_generation  # import cycle otherwise

    start_of_day = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    summaries = []
    for project in user.projects.order_by("name"):
        generation = current_generation(project)
        waiting = 0
        if generation is not None:
            labeled = Labeling.objects.filter(project=project, labeler=user).values("solution_id")
            waiting = (
                GenerationItem.objects.filter(generation=generation)
                .exclude(solution_id__in=labeled)
                .count()
            )
        summaries.append(
            {
                "project": project,
                "done_today": Labeling.objects.filter(
                    project=project,
                    labeler=user,
                    status=LabelingStatus.SUBMITTED,
                    submitted_at__gte=start_of_day,
                ).count(),
                "in_progress": Labeling.objects.filter(
                    project=project, labeler=user, status=LabelingStatus.DRAFT
                ).count(),
                "waiting": waiting,
                "generation": generation.number if generation else None,
            }
        )
    return summaries


def is_lead(user: User) -> bool:
    return user.is_superuser or user.role == Role.LEAD


def project_for_lead(user: User, project_id: int) -> Project:
    project = Project.objects.filter(pk=project_id).first()
    if project is None or not is_lead(user):
        raise NotFound("No such project.")
    return project


def queue_overview(project: Project) -> dict:
    """What a lead sees of the queue: per generation solutions waiting / in progress / done,
    live leases, and per annotator quality control and screening."""
    now = timezone.now()
    live = Labeling.objects.filter(
        project=project, status=LabelingStatus.DRAFT, lease_expires_at__gt=now
    )
    in_progress_solutions = live.values("solution_id")
    generations = []
    for generation in project.generations.order_by("number"):
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
    memberships = Membership.objects.filter(project=project).select_related("user")
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
    return {"generations": generations, "leases": leases, "annotators": annotators}


def can_see_statistics(user: User) -> bool:
    return user.is_superuser or user.role in (Role.LEAD, Role.RESEARCHER)


def project_for_statistics(user: User, project_id: int) -> Project:
    """Leads see every project's statistics, researchers those they are members of."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise NotFound("No such project.")
    if not (is_lead(user) or project.members.filter(pk=user.pk).exists()):
        raise NotFound("No such project.")
    return project
