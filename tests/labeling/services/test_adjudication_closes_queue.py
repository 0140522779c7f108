"""A lead's ruling settles a queued solution (issue 19): adjudicating a solution whose
disagreement-queue item still waits for its one more labeling closes that item, so the
next-task rule never serves it again, and a recount (an overlap change, an import) does not
reopen it; the queue shows the item as `adjudicated`. Before, the item stayed open and the
next annotator to ask was handed a labeling that training would ignore."""

import pytest
from rest_framework.test import APIClient

from active_learning.loop.stages import publish
from labeling.models import GenerationItem, Labeling, Membership, Role
from tests.factories import UserFactory

from .test_disagreement import _setup

pytestmark = pytest.mark.django_db


def _client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def _queued_alone():
    """A queued for one more labeling in the published generation, and the only open item
    there (every other one closed), so that the next task is A unless the rule refuses it:
    (project, generation, A, lead client, annotator client)."""
    project, run, _, solutions, _ = _setup(budget=1)
    published = publish.run_publish(run.pk)
    a = solutions["A"]
    GenerationItem.objects.filter(generation=published.generation).exclude(solution=a).update(
        is_open=False
    )
    item = GenerationItem.objects.get(generation=published.generation, solution=a)
    assert (item.wanted, item.is_open) == (1, True)
    lead = UserFactory(role=Role.LEAD)
    Membership.objects.create(project=project, user=lead)
    annotator = UserFactory(role=Role.ANNOTATOR)
    Membership.objects.create(project=project, user=annotator)
    return project, published.generation, a, _client(lead), _client(annotator)


def _next(client, project):
    return client.post("/api/assignments/next/", {"project": project.pk}, format="json")


def test_a_ruling_closes_the_open_queue_item_and_next_does_not_serve_it():
    """Catches an adjudicated solution still served for its one more labeling (the item left
    open), on the fast path of next as the browser calls it."""
    project, generation, a, lead, annotator = _queued_alone()
    url = f"/api/projects/{project.pk}/solutions/{a.pk}/adjudication/"
    assert lead.put(url, {"first_error": 2}, format="json").status_code == 200
    item = GenerationItem.objects.get(generation=generation, solution=a)
    assert item.is_open is False
    response = _next(annotator, project)
    assert response.status_code == 204, response.content
    assert response["X-No-Task-Reason"] == "nothing_left"
    assert not Labeling.objects.filter(solution=a, generation=generation).exists()
    [row] = lead.get(f"/api/projects/{project.pk}/disagreements/").json()["items"]
    assert row["outcome"]["status"] == "adjudicated"


def test_a_recount_after_the_ruling_keeps_the_item_closed():
    """Catches generation_items_recount (run by an overlap change) reopening an adjudicated
    solution's queue item because it still has fewer labelings than it wanted."""
    project, generation, a, lead, annotator = _queued_alone()
    url = f"/api/projects/{project.pk}/solutions/{a.pk}/adjudication/"
    assert lead.put(url, {"first_error": -1}, format="json").status_code == 200
    changed = lead.patch(f"/api/projects/{project.pk}/", {"overlap": 3}, format="json")
    assert changed.status_code == 200, changed.content
    assert GenerationItem.objects.get(generation=generation, solution=a).is_open is False
    # the recount reopened the other items (overlap 3): close them again, A alone is left
    GenerationItem.objects.filter(generation=generation).exclude(solution=a).update(is_open=False)
    assert _next(annotator, project).status_code == 204


def test_an_unknown_field_of_the_ruling_is_refused_and_nothing_is_recorded():
    """Catches `{"first_error": 2, "notes": "..."}` recorded with the note silently dropped
    (DRF ignores undeclared fields) and the item closed."""
    from labeling.models import Adjudication

    project, generation, a, lead, _ = _queued_alone()
    url = f"/api/projects/{project.pk}/solutions/{a.pk}/adjudication/"
    response = lead.put(url, {"first_error": 2, "notes": "step 3 is wrong"}, format="json")
    assert response.status_code == 400, response.content
    assert response.json() == {"notes": ["Unknown field."]}
    assert not Adjudication.objects.exists()
    assert GenerationItem.objects.get(generation=generation, solution=a).is_open is True
