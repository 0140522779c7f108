"""What the loop counts and chooses from (`active_learning/loop/candidates.py`): the labelings
that count as new labels, and the candidate pool of the next generation."""

import pytest

from active_learning.loop.candidates import candidate_ids, submitted_labelings
from labeling.models import Generation, GenerationItem, GoldLabel, LabelingStatus
from tests.factories import LabelingFactory, ProjectFactory, SolutionFactory

pytestmark = pytest.mark.django_db


def test_only_regular_submitted_labelings_count_as_new_labels():
    """Would catch quality-control or screening submits (or drafts) counting towards the
    retrain trigger: they are checks of the annotator, not new labels."""
    project = ProjectFactory()
    LabelingFactory.create_batch(2, solution=SolutionFactory(problem__project=project))
    LabelingFactory(solution=SolutionFactory(problem__project=project), is_quality_control=True)
    LabelingFactory(solution=SolutionFactory(problem__project=project), is_screening=True)
    LabelingFactory(
        solution=SolutionFactory(problem__project=project),
        status=LabelingStatus.DRAFT,
        submitted_at=None,
    )
    LabelingFactory(solution=SolutionFactory())  # another project's
    assert submitted_labelings(project) == 2


def test_candidates_leave_out_labeled_gold_and_screening_solutions():
    """Would catch a labeled (or being labeled), gold or screening solution served again as a
    candidate; an abandoned labeling frees its solution, and another project's solutions never
    come in."""
    project = ProjectFactory()
    free, abandoned, submitted, draft, gold, screening = (
        SolutionFactory(problem__project=project) for _ in range(6)
    )
    LabelingFactory(solution=submitted)
    LabelingFactory(solution=draft, status=LabelingStatus.DRAFT, submitted_at=None)
    LabelingFactory(solution=abandoned, status=LabelingStatus.ABANDONED, submitted_at=None)
    GoldLabel.objects.create(
        solution=gold, labeling=LabelingFactory(solution=gold, is_quality_control=True)
    )
    screening_generation = Generation.objects.create(project=project, number=Generation.SCREENING)
    GenerationItem.objects.create(generation=screening_generation, solution=screening, rank=0)
    SolutionFactory()  # another project's
    assert candidate_ids(project) == sorted([free.pk, abandoned.pk])
