"""Posted text follows the same policy as imported text (issue 13, point 3: "one text policy for
everything imported or posted"): a reason, a token name, a filter with a control character or a
lone surrogate is a 400 that names the field, and nothing is stored. (JSON can carry a lone
surrogate, `"\\ud83d"`, which a browser's form cannot.)"""

import json

import pytest

from labeling.models import ApiToken, Generation, GenerationItem, Labeling, LabelingStatus, Role
from tests.factories import ProjectFactory, SolutionFactory, UserFactory

from .research_helpers import client_for, import_samples, lead

pytestmark = pytest.mark.django_db

BAD = [
    ("a bell \x07", "U+0007"),
    ("an escape \x1b[31m", "U+001B"),
    ("nul \x00", "U+0000"),
    ("a lone \ud83d surrogate", "surrogate"),
    ("\u202emoc.evil", "U+202E"),  # shown as "live.com": a bidi override (issue 13)
    ("an isolate \u2067", "U+2067"),
]


def post_json(client, path: str, body: dict):
    """The body as JSON text written by `json.dumps` (a lone surrogate as its `\\ud83d`
    escape, as any client may send it; the test client's own encoder would refuse it)."""
    return client.post(path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def assignment():
    project = ProjectFactory()
    generation = Generation.objects.create(project=project, number=0)
    solution = SolutionFactory(problem__project=project, steps=["One.", "# Answer\n\n1"])
    GenerationItem.objects.create(generation=generation, solution=solution, rank=1)
    annotator = UserFactory(role=Role.ANNOTATOR)
    project.members.add(annotator)
    client = client_for(annotator)
    task = client.post("/api/assignments/next/", {}, format="json").json()
    return client, task["id"]


@pytest.mark.parametrize(("text", "what"), BAD)
def test_a_give_up_reason_outside_the_policy_is_refused(assignment, text, what):
    """Was: stored (a control character), or a 500 from PostgreSQL (NUL in a text column)."""
    client, pk = assignment
    response = post_json(
        client, f"/api/assignments/{pk}/submit/", {"finish_reason": "give_up", "reason": text}
    )
    assert response.status_code == 400
    assert "reason" in response.json()
    assert Labeling.objects.get(pk=pk).status == LabelingStatus.DRAFT


@pytest.mark.parametrize("text", ["\u200b", " \u200b\ufeff\u2060 ", "\u00ad\u200d"])
def test_a_give_up_reason_of_invisible_characters_only_is_empty(assignment, text):
    """Was: 200, a reason of a zero-width space passed the non-empty check that "   " fails."""
    client, pk = assignment
    response = post_json(
        client, f"/api/assignments/{pk}/submit/", {"finish_reason": "give_up", "reason": text}
    )
    assert response.status_code == 400, response.content
    assert "reason" in response.content.decode()
    assert Labeling.objects.get(pk=pk).status == LabelingStatus.DRAFT


def test_line_breaks_and_any_script_are_accepted(assignment):
    client, pk = assignment
    reason = "Ambiguous:\r\n≥ and ≤ mixed up 😀\tsee step 2"
    response = client.post(
        f"/api/assignments/{pk}/submit/",
        {"finish_reason": "give_up", "reason": reason},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert Labeling.objects.get(pk=pk).reason == reason


@pytest.mark.parametrize(("text", "what"), BAD)
def test_a_token_name_outside_the_policy_is_refused(text, what):
    user = UserFactory(role=Role.RESEARCHER)
    response = post_json(client_for(user), "/api/tokens/", {"name": text})
    assert response.status_code == 400
    assert "name" in response.json()
    assert not ApiToken.objects.exists()


def test_a_token_name_from_the_page_follows_the_policy_too():
    from django.test import Client

    user = UserFactory(role=Role.RESEARCHER)
    client = Client()
    client.force_login(user)
    client.post("/account/tokens/", {"name": "bell \x07"})
    client.post("/account/tokens/", {"name": "x" * 101})
    assert not ApiToken.objects.exists()


def test_an_export_filter_outside_the_policy_is_refused():
    project = import_samples()
    client = client_for(lead())
    response = client.post(
        "/api/exports/",
        {"project": project.pk, "format": "prm800k", "filters": {"labeler": "bell \x07"}},
        format="json",
    )
    assert response.status_code == 400
    assert "labeler" in str(response.json())
    assert client.get("/api/labelings/", {"labeler": "bell \x07"}).status_code == 400
