"""Reads, permission-checked where they take a user."""

from django.db.models import Count, Q, QuerySet

from labeling.models import LabelingStatus, Project, Role, User


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
