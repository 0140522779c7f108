"""Issue 14.4's "N done today · M waiting" on the task page: M counts only the items the
annotator may still be served."""

import pytest

from labeling.models import Generation, GenerationItem, GoldLabel, Role
from labeling.selectors import annotator_progress
from tests.factories import LabelingFactory, ProjectFactory, SolutionFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_waiting_counts_only_open_items_the_user_may_still_be_served():
    """Overlap 1 (the default), 3 solutions in the round, two annotators. bob has submitted
    solutions 1 and 2, which closes them (no one else will be served them). ann has labeled
    nothing: one solution is left for her, but the task page and the home page say
    "0 done today · 3 waiting" -- `waiting` counts every item of the generation she has no
    labeling of, closed or not. With 10 annotators on 1,000 solutions, after the others did
    900, each sees about 900 waiting while 100 are left. Expected: 1 waiting (open items she
    can still be served)."""
    project = ProjectFactory(overlap=1)
    generation = Generation.objects.create(project=project, number=0)
    ann = UserFactory(username="ann", role=Role.ANNOTATOR)
    bob = UserFactory(username="bob", role=Role.ANNOTATOR)
    project.members.add(ann, bob)
    solutions = [SolutionFactory(problem__project=project) for _ in range(3)]
    for rank, solution in enumerate(solutions, 1):
        GenerationItem.objects.create(
            generation=generation,
            solution=solution,
            rank=rank,
            submitted_count=1 if rank < 3 else 0,
            is_open=rank == 3,
        )
    for solution in solutions[:2]:
        LabelingFactory(solution=solution, project=project, labeler=bob, generation=generation)

    assert annotator_progress(bob, project)["waiting"] == 1
    assert annotator_progress(ann, project)["waiting"] == 1


def test_waiting_does_not_count_gold_solutions():
    """A quality-control (gold) solution that sits in the round is never served as a regular
    task (the queue skips gold): it is not waiting either."""
    project = ProjectFactory(overlap=1)
    generation = Generation.objects.create(project=project, number=0)
    ann = UserFactory(username="ann", role=Role.ANNOTATOR)
    project.members.add(ann)
    solutions = [SolutionFactory(problem__project=project) for _ in range(2)]
    for rank, solution in enumerate(solutions, 1):
        GenerationItem.objects.create(generation=generation, solution=solution, rank=rank)
    lead = UserFactory(username="lead", role=Role.LEAD)
    reference = LabelingFactory(solution=solutions[0], project=project, labeler=lead)
    GoldLabel.objects.create(solution=solutions[0], labeling=reference)

    assert annotator_progress(ann, project)["waiting"] == 1
