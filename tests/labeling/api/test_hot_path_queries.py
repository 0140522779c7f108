"""SQL budgets of the three hottest requests (next, draft save, submit), so that a change that
adds a round trip fails here instead of showing up as latency in production; and the
guarantees of the lock-free draft save (it must still refuse every save it refused before).

Counts are of the view's own statements (the client is force-authenticated; session or token
authentication adds two reads in production). Inside a test the request's transaction is a
SAVEPOINT / RELEASE pair, which is counted; in production it is BEGIN / COMMIT, which is not.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from labeling.errors import Conflict
from labeling.models import (
    Generation,
    GenerationItem,
    Labeling,
    LabelingStatus,
    Membership,
    StepRating,
)
from labeling.services.drafts import assignment_draft_save
from tests.factories import ProjectFactory, SolutionFactory, UserFactory

pytestmark = pytest.mark.django_db

STEPS = ["One.", "Two.", "So 3.\n\n# Answer\n\n3"]
POSITIVE = [{"rating": 1, "flagged": False}] * len(STEPS)

# The budgets (statements per request, see the module docstring; the exact counts, per
# database, are in test_statement_counts.py).
NEXT_NEW_TASK = 5  # lock membership (+ project, generation ids, draft?); lock candidate; insert
NEXT_RESUME = 4  # lock membership; drafts (a lease set within the minute is not renewed)
DRAFT_SAVE = 2  # read; conditional update (no transaction)
SUBMIT = 6  # PostgreSQL: read; one write. SQLite: lock + read; update; ratings; item
SUBMIT_AGAIN = 3  # read (SQLite: in a transaction), nothing else


@pytest.fixture
def project():
    project = ProjectFactory(overlap=2, qc_rate=0)
    generation = Generation.objects.create(project=project, number=0)
    for rank in range(1, 6):
        solution = SolutionFactory(problem__project=project, steps=STEPS)
        GenerationItem.objects.create(generation=generation, solution=solution, rank=rank)
    return project


@pytest.fixture
def annotator(project):
    user = UserFactory(role="annotator")
    Membership.objects.create(project=project, user=user)
    return user


@pytest.fixture
def client(annotator):
    client = APIClient()
    client.force_authenticate(annotator)
    return client


def counted(call):
    with CaptureQueriesContext(connection) as queries:
        response = call()
    return response, [q["sql"] or "(prepared)" for q in queries]


def next_task(client, project):
    return client.post("/api/assignments/next/", {"project": project.pk}, format="json")


def save(client, task_id, steps=POSITIVE, **extra):
    return client.put(
        f"/api/assignments/{task_id}/draft/", {"steps": steps, **extra}, format="json"
    )


def submit(client, task_id):
    return client.post(
        f"/api/assignments/{task_id}/submit/", {"finish_reason": "solution"}, format="json"
    )


def test_next_draft_and_submit_stay_within_their_query_budgets(client, project):
    response, sql = counted(lambda: next_task(client, project))
    assert response.status_code == 200
    assert len(sql) <= NEXT_NEW_TASK, "\n".join(sql)
    task = response.json()["id"]

    response, sql = counted(lambda: next_task(client, project))
    assert response.json()["id"] == task  # resumed, not a new task
    assert len(sql) <= NEXT_RESUME, "\n".join(sql)

    response, sql = counted(lambda: save(client, task, total_time_ms=1500))
    assert response.status_code == 200, response.content
    assert response.json() == {"saved": True, "total_time_ms": 1500, "revision": 1}
    assert len(sql) <= DRAFT_SAVE, "\n".join(sql)
    assert not any("SAVEPOINT" in q for q in sql)  # no transaction at all

    response, sql = counted(lambda: submit(client, task))
    assert response.status_code == 200, response.content
    assert len(sql) <= SUBMIT, "\n".join(sql)

    response, sql = counted(lambda: submit(client, task))
    assert response.status_code == 200  # idempotent
    assert len(sql) <= SUBMIT_AGAIN, "\n".join(sql)

    labeling = Labeling.objects.get(pk=task)
    assert labeling.status == LabelingStatus.SUBMITTED and labeling.total_time_ms == 1500
    assert StepRating.objects.filter(labeling=labeling).count() == len(STEPS)
    item = GenerationItem.objects.get(solution=labeling.solution)
    assert (item.submitted_count, item.is_open) == (1, True)


def test_submit_closes_the_item_exactly_when_it_reaches_the_overlap(project):
    users = [UserFactory(role="annotator") for _ in range(2)]
    first = GenerationItem.objects.get(rank=1)
    for n, user in enumerate(users, start=1):
        Membership.objects.create(project=project, user=user)
        client = APIClient()
        client.force_authenticate(user)
        task = next_task(client, project).json()
        assert task["solution"] == first.solution_id
        assert save(client, task["id"]).status_code == 200
        assert submit(client, task["id"]).status_code == 200
        first.refresh_from_db()
        assert first.submitted_count == n
        assert first.is_open is (n < project.overlap)


def test_draft_save_keeps_the_larger_time_and_says_so(client, project):
    task = next_task(client, project).json()["id"]
    assert save(client, task, total_time_ms=5000).json()["total_time_ms"] == 5000
    assert save(client, task, total_time_ms=3000).json()["total_time_ms"] == 5000  # late save
    assert save(client, task).json()["total_time_ms"] == 5000  # no time sent
    assert Labeling.objects.get(pk=task).total_time_ms == 5000


def test_draft_save_after_expiry_is_409_and_changes_nothing(client, project):
    task = next_task(client, project).json()["id"]
    save(client, task, steps=[{"rating": 0, "flagged": False}], total_time_ms=10)
    before = Labeling.objects.get(pk=task)
    Labeling.objects.filter(pk=task).update(lease_expires_at=timezone.now() - timedelta(1))
    response = save(client, task, total_time_ms=99)
    assert response.status_code == 409
    assert "expired" in response.json()["detail"]
    after = Labeling.objects.get(pk=task)
    assert (after.steps, after.total_time_ms) == (before.steps, before.total_time_ms)


def test_draft_save_of_a_submitted_or_released_labeling_is_409(client, project):
    task = next_task(client, project).json()["id"]
    save(client, task)
    submit(client, task)
    response = save(client, task, steps=[])
    assert response.status_code == 409 and "submitted" in response.json()["detail"]
    assert len(Labeling.objects.get(pk=task).steps) == len(STEPS)


def test_a_draft_that_changes_between_read_and_write_is_not_overwritten(
    annotator, project, monkeypatch
):
    """The race the conditional UPDATE closes: the draft is submitted (here: abandoned by a
    lead) after the save has read it and before it writes."""
    from labeling.services import drafts

    client = APIClient()
    client.force_authenticate(annotator)
    task = next_task(client, project).json()["id"]
    original = drafts._draft_write

    def release_then_write(*args):
        Labeling.objects.filter(pk=task).update(
            status=LabelingStatus.ABANDONED, lease_expires_at=None
        )
        return original(*args)

    monkeypatch.setattr(drafts, "_draft_write", release_then_write)
    with pytest.raises(Conflict) as raised:
        assignment_draft_save(user_id=annotator.pk, assignment_id=task, steps=POSITIVE)
    assert "abandoned" in raised.value.message
    labeling = Labeling.objects.get(pk=task)
    assert labeling.status == LabelingStatus.ABANDONED and labeling.steps == []


def test_someone_elses_assignment_is_404_even_with_invalid_input(client, project):
    task = next_task(client, project).json()["id"]
    intruder = APIClient()
    intruder.force_authenticate(UserFactory(role="annotator"))
    for response in (
        save(intruder, task),
        intruder.put(f"/api/assignments/{task}/draft/", {}, format="json"),
        submit(intruder, task),
        intruder.post(f"/api/assignments/{task}/submit/", {"finish_reason": "?"}, format="json"),
    ):
        assert response.status_code == 404, response.content
    # the owner's invalid input is a 400 that says which field
    response = client.put(f"/api/assignments/{task}/draft/", {}, format="json")
    assert response.status_code == 400 and "steps" in response.json()
    assert Labeling.objects.get(pk=task).steps == []


def test_next_for_a_project_that_does_not_exist_or_is_not_theirs_is_404(client, project):
    response = client.post("/api/assignments/next/", {"project": 10**9}, format="json")
    assert response.status_code == 404
    other = ProjectFactory()
    response = client.post("/api/assignments/next/", {"project": other.pk}, format="json")
    assert response.status_code == 404
    assert not Labeling.objects.exists()
