"""Fixtures shared by the assignment API tests."""

import pytest
from rest_framework.test import APIClient

from labeling.models import Generation, GenerationItem, Role
from tests.factories import ProjectFactory, SolutionFactory, UserFactory

# A four-step solution whose last step states the answer (TeX in the first step).
TASK_STEPS = ["One $x$.", "Two.", "Three.", "So 3.\n\n# Answer\n\n3"]


@pytest.fixture
def task(db):
    """A served task: (the annotator's API client, the assignment's URL, its id)."""
    project = ProjectFactory()
    generation = Generation.objects.create(project=project, number=0)
    solution = SolutionFactory(problem__project=project, steps=TASK_STEPS)
    GenerationItem.objects.create(generation=generation, solution=solution, rank=1)
    user = UserFactory(role=Role.ANNOTATOR)
    project.members.add(user)
    client = APIClient()
    client.force_authenticate(user)
    task_id = client.post("/api/assignments/next/", {}, format="json").json()["id"]
    return client, f"/api/assignments/{task_id}/", task_id
