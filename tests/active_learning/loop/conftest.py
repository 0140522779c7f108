"""The loop's test helpers: a project that serves a generation with the label trigger set, and
one submit through the real services."""

from active_learning.models import LoopSettings
from labeling.models import Generation, GenerationItem, Membership
from labeling.services.assignments import assignment_next
from labeling.services.drafts import draft_save
from labeling.services.submission import labeling_submit
from tests.factories import ProjectFactory, SolutionFactory, UserFactory


def queue_project(solutions=6, retrain_every=3):
    project = ProjectFactory(qc_rate=0.0)
    generation = Generation.objects.create(project=project, number=0)
    for rank in range(solutions):
        solution = SolutionFactory(problem__project=project)
        GenerationItem.objects.create(generation=generation, solution=solution, rank=rank)
    LoopSettings.objects.create(project=project, retrain_every=retrain_every)
    user = UserFactory()
    Membership.objects.create(project=project, user=user)
    return project, user


def submit_one(project, user):
    task = assignment_next(user=user, project=project).labeling
    draft_save(labeling=task, steps=[{"rating": 1, "flagged": False}] * len(task.solution.steps))
    return labeling_submit(labeling=task, finish_reason="solution")
