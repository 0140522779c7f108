"""A labeling's StepRating rows, derived from its `steps` (PRM800K `label.steps`)."""

from labeling.models import Labeling, StepRating
from labeling.prm800k import iter_ratings


def step_ratings_write(*, labeling: Labeling) -> None:
    """Upsert the labeling's StepRating rows from `labeling.steps` (one statement; a row
    already there, which a draft never has, is updated in place rather than deleted and
    inserted again). Used by the submit (submission.py) and by a gold made from a first-error
    judgement (quality.gold_from_first_error)."""
    StepRating.objects.bulk_create(
        (
            StepRating(
                labeling=labeling,
                step_index=row.step_index,
                completion_index=row.completion_index,
                rating=row.rating,
                flagged=row.flagged,
            )
            for row in iter_ratings(labeling.steps)
        ),
        update_conflicts=True,
        unique_fields=["labeling", "step_index", "completion_index"],
        update_fields=["rating", "flagged"],
    )
