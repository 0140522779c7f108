"""Who may do what, written once: the three role rules every view and endpoint uses.

- "lead": leads (and superusers) manage projects: settings, queue, members, gold labels.
- "lead or researcher": the researcher surface (the API's data resources, exports, imports,
  statistics, the loop's pages); annotators are refused (403).
- "leads see every project, researchers their own": `research_projects` / `research_project`;
  another project is a 404 (NotFound), so its existence does not leak.

Each rule exists as a predicate (for templates and services), a DRF permission class (for the
API: `IsLead`, `IsLeadOrResearcher`) and a helper for HTML views (`require_lead`,
`require_researcher`: PermissionDenied, i.e. 403, with the page's message). The loop's
researcher endpoints (active_learning/research_api.py) and serializers use the same ones.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from rest_framework import permissions

from labeling.errors import NotFound
from labeling.models import Project, Role, User


def is_lead(user: User) -> bool:
    """Leads (and superusers) manage every project; False for anyone anonymous."""
    return bool(user and user.is_authenticated and (user.is_superuser or user.role == Role.LEAD))


def is_researcher(user: User) -> bool:
    """Leads and researchers (and superusers) use the researcher surface; annotators do not."""
    return bool(
        user
        and user.is_authenticated
        and (user.is_superuser or user.role in (Role.LEAD, Role.RESEARCHER))
    )


def member_projects(user: User) -> QuerySet[Project]:
    """Projects a user belongs to, any role; every project for leads."""
    if is_lead(user):
        return Project.objects.all()
    return Project.objects.filter(members=user)


def research_projects(user: User) -> QuerySet[Project]:
    """Projects whose data the user may read, export and import: every project for leads,
    the projects they are members of for researchers, none for annotators."""
    if not is_researcher(user):
        return Project.objects.none()
    return member_projects(user)


def research_project(user: User, project_id: int) -> Project:
    """One of `research_projects(user)`; NotFound (404) for no such project or another's."""
    project = research_projects(user).filter(pk=project_id).first()
    if project is None:
        raise NotFound("No such project.")
    return project


def lead_project(user: User, project_id: int) -> Project:
    """The project, for a lead; NotFound (404) for no such project or a user who is no lead
    (views that should say 403 to non-leads call `require_lead` first)."""
    project = Project.objects.filter(pk=project_id).first() if is_lead(user) else None
    if project is None:
        raise NotFound("No such project.")
    return project


def require_lead(user: User, message: str) -> None:
    """For HTML views: PermissionDenied (403 page saying `message`) unless `is_lead(user)`."""
    if not is_lead(user):
        raise PermissionDenied(message)


def require_researcher(user: User, message: str) -> None:
    """For HTML views: PermissionDenied (403 page saying `message`) unless `is_researcher`."""
    if not is_researcher(user):
        raise PermissionDenied(message)


class IsLead(permissions.BasePermission):
    """DRF: `is_lead` (403 otherwise)."""

    message = "Only project leads may do this."

    def has_permission(self, request, view):
        return is_lead(request.user)


class IsLeadOrResearcher(permissions.BasePermission):
    """DRF: `is_researcher`, i.e. leads and researchers (403 for annotators)."""

    message = "Only researchers and project leads may use this."

    def has_permission(self, request, view):
        return is_researcher(request.user)
