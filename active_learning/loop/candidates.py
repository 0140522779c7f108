"""What a project has for the loop: the labelings that count as new labels, and the candidate
solutions the next generation is chosen from."""

from labeling.models import (
    Labeling,
    LabelingStatus,
    Project,
)
from labeling.selectors import unlabeled_solutions


def submitted_labelings(project: Project) -> int:
    """Submitted labelings that count as new labels (not quality-control or screening)."""
    return Labeling.objects.filter(
        project=project,
        status=LabelingStatus.SUBMITTED,
        is_quality_control=False,
        is_screening=False,
    ).count()


def candidate_ids(project: Project) -> list[int]:
    """Solutions that may go into the next generation, ascending ids: the project's unlabeled
    solutions (`labeling.selectors.unlabeled_solutions`: with steps, so no phase-1 task; no
    submitted or draft labeling; not gold; not in the screening set). Solutions of the current
    generation that nobody has labeled yet are candidates again: the new model re-scores
    them."""
    return list(unlabeled_solutions(project).order_by("pk").values_list("pk", flat=True))
