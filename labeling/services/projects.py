"""Project settings, changed by leads."""

from django.db import transaction

from labeling.errors import ApplicationError
from labeling.models import Membership, Project
from labeling.services.quality import generation_items_recount

EDITABLE = (
    "overlap",
    "lease_minutes",
    "qc_rate",
    "screening_pass_mark",
    "qc_pause_threshold",
    "qc_pause_min_questions",
)


def project_update(*, project: Project, **changes) -> Project:
    """Change settings; a new overlap reopens or closes queue items at once."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ApplicationError(f"Not a project setting: {', '.join(sorted(unknown))}")
    problems = []
    overlap = changes.get("overlap", 1)
    if not (isinstance(overlap, int) and overlap >= 1):
        problems.append("overlap: must be a whole number of at least 1")
    if "lease_minutes" in changes and not (
        isinstance(changes["lease_minutes"], int) and 1 <= changes["lease_minutes"] <= 24 * 60
    ):
        problems.append("lease_minutes: must be between 1 and 1440")
    for share in ("qc_rate", "screening_pass_mark", "qc_pause_threshold"):
        value = changes.get(share)
        if share in changes and value is None and share == "qc_pause_threshold":
            continue
        if share in changes and not (isinstance(value, (int, float)) and 0 <= value <= 1):
            problems.append(f"{share}: must be a share between 0 and 1")
    if problems:
        raise ApplicationError("Invalid project settings.", details=problems)
    with transaction.atomic():
        overlap_changed = "overlap" in changes and changes["overlap"] != project.overlap
        for key, value in changes.items():
            setattr(project, key, value)
        project.save()
        if overlap_changed:
            generation_items_recount(project)
    return project


def membership_resume(*, membership: Membership) -> None:
    membership.paused = False
    membership.save(update_fields=["paused", "updated_at"])
