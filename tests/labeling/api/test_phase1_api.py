"""Phase-1 labeling over HTTP: the API (labeling/phase1_api.py), the task page in phase-1 mode
and the lead's queue action (labeling/phase1_views.py)."""

import pytest
from rest_framework.test import APIClient

from labeling.models import Generation, Labeling, Role
from labeling.services import phase1
from tests.factories import ProblemFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db
FIRST = ["One $x$.", "Two.", "Three."]


@pytest.fixture
def served():
    """(client, phase-1 API URL, labeling) of an annotator holding a phase-1 task."""
    project = ProjectFactory(phase1_mode=True, phase1_alternatives=3)
    problem = ProblemFactory(project=project, text="Find $x$.")
    phase1.alternatives_store(problem=problem, prefix=[], texts=FIRST, source="PRM800K")
    phase1.phase1_generation_create(project=project)
    user = UserFactory(role=Role.ANNOTATOR)
    project.members.add(user)
    client = APIClient()
    client.force_authenticate(user)
    task_id = client.post("/api/assignments/next/", {}, format="json").json()["id"]
    return client, f"/api/assignments/{task_id}/phase1/", Labeling.objects.get(pk=task_id)


def test_save_answers_the_next_open_position_and_refuses_a_stale_revision(served):
    """Catches a phase-1 save whose stale revision is not a 409 carrying the stored positions
    (the page could not tell its own lost save from another tab's), or whose answer lacks the
    next alternatives."""
    client, url, _ = served
    positions = [{"ratings": [1, 0, -1], "chosen": 1}]
    response = client.put(url, {"steps": positions, "revision": 0}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["revision"] == 1
    assert body["open"]["position"] == 1 and body["open"]["status"] == "pending"
    stale = client.put(url, {"steps": [{"ratings": [1]}], "revision": 0}, format="json")
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_draft"
    assert stale.json()["steps"] == [
        {"ratings": [1, 0, -1], "flagged": [False] * 3, "chosen": 1, "human": None, "shown": 3}
    ]


def test_bad_positions_are_a_400_naming_the_field_and_change_nothing(served):
    client, url, labeling = served
    response = client.put(url, {"steps": [{"ratings": [1, 1, 1], "chosen": 7}]}, format="json")
    assert response.status_code == 400
    assert "steps[0].chosen" in response.json()["detail"]
    labeling.refresh_from_db()
    assert labeling.steps == [] and labeling.draft_revision == 0


def test_get_shows_the_own_draft_and_the_alternatives_and_others_get_404(served):
    client, url, _ = served
    state = client.get(url).json()
    assert state["mode"] == "phase1"
    assert state["open"]["alternatives"] == FIRST and state["open"]["source"] == "PRM800K"
    other = APIClient()
    other.force_authenticate(UserFactory())
    assert other.get(url).status_code == 404
    assert other.put(url, {"steps": []}, format="json").status_code == 404


def test_submit_through_the_ordinary_endpoint_checks_phase1_endings(served):
    """Catches the ordinary submit endpoint applying phase 2's rules to a phase-1 task."""
    client, url, labeling = served
    client.put(url, {"steps": [{"ratings": [1, 0, -1], "chosen": 1}]}, format="json")
    submit = f"/api/assignments/{labeling.pk}/submit/"
    refused = client.post(submit, {"finish_reason": "solution"}, format="json")
    assert refused.status_code == 400 and "final answer" in refused.json()["detail"]
    done = client.post(submit, {"finish_reason": "give_up", "reason": "stuck"}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "submitted"


def test_the_task_page_opens_in_phase1_mode_full_and_htmx(served, client):
    """Catches a phase-1 task rendered as a phase-2 page (no alternatives, nothing to rate)."""
    _, _, labeling = served
    client.force_login(labeling.labeler)
    page = client.get(f"/tasks/{labeling.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-mode="phase1"' in html and 'data-role="alternatives"' in html
    assert "js/phase1.js" in html
    fragment = client.get(f"/tasks/{labeling.pk}/", headers={"HX-Request": "true"})
    assert 'data-mode="phase1"' in fragment.content.decode()
    assert "<html" not in fragment.content.decode()


def test_a_lead_queues_the_problems_for_phase1(client):
    project = ProjectFactory(phase1_mode=True)
    ProblemFactory(project=project)
    ProblemFactory(project=project)
    client.force_login(UserFactory(role=Role.LEAD))
    response = client.post(f"/projects/{project.pk}/phase1/")
    assert response.status_code == 302
    generation = Generation.objects.get(project=project)
    assert generation.strategy == "phase1" and generation.items.count() == 2
    annotator = UserFactory(role=Role.ANNOTATOR)
    project.members.add(annotator)
    client.force_login(annotator)
    assert client.post(f"/projects/{project.pk}/phase1/").status_code == 403


def test_lead_pages_and_statistics_work_with_phase1_labelings(served, client):
    """Catches a lead page or the statistics failing on phase-1 labelings (steps with several
    completions and own steps, solutions with no steps)."""
    api, url, labeling = served
    api.put(url, {"steps": [{"ratings": [1, 0, -1], "chosen": 1}]}, format="json")
    submit = f"/api/assignments/{labeling.pk}/submit/"
    assert api.post(submit, {"finish_reason": "give_up", "reason": "x"}).status_code == 200
    lead = UserFactory(role=Role.LEAD)
    client.force_login(lead)
    project = labeling.project
    for page in ("queue", "stats", "data"):
        response = client.get(f"/projects/{project.pk}/{page}/")
        assert response.status_code == 200, page
    lead_api = APIClient()
    lead_api.force_authenticate(lead)
    stats = lead_api.get(f"/api/projects/{project.pk}/stats/")
    assert stats.status_code == 200


def test_a_float_rating_is_a_400_and_the_task_can_still_be_submitted(served):
    """JSON's `1.0` equals 1 in Python: a save that rated with it was stored, and the submit
    then failed with a 500 (the ratings could not be written), leaving the task stuck (catches
    a rating check that accepts a float)."""
    client, url, labeling = served
    bad = client.put(url, {"steps": [{"ratings": [1.0, 0, -1], "chosen": 0}]}, format="json")
    assert bad.status_code == 400 and "steps[0].ratings[0]" in bad.json()["detail"]
    labeling.refresh_from_db()
    assert labeling.steps == [] and labeling.draft_revision == 0
    client.put(url, {"steps": [{"ratings": [1, 0, -1]}]}, format="json")
    submit = f"/api/assignments/{labeling.pk}/submit/"
    done = client.post(submit, {"finish_reason": "give_up", "reason": "stuck"}, format="json")
    assert done.status_code == 200, done.content


def test_the_phase2_draft_endpoint_cannot_overwrite_a_phase1_draft(served):
    """`PUT /api/assignments/<id>/draft/` with `steps: []` on a phase-1 task was a 200 that
    replaced the saved positions (rated proposals, the path taken) with nothing. Catches a
    phase-2 save that reaches a phase-1 draft: 400 naming the phase-1 endpoint, nothing
    changed; a save of the time alone still works."""
    client, url, labeling = served
    client.put(url, {"steps": [{"ratings": [1, 0, -1], "chosen": 1}]}, format="json")
    labeling.refresh_from_db()
    saved, revision = labeling.steps, labeling.draft_revision
    draft = f"/api/assignments/{labeling.pk}/draft/"
    refused = client.put(draft, {"steps": []}, format="json")
    assert refused.status_code == 400 and "/phase1/" in refused.json()["detail"]
    labeling.refresh_from_db()
    assert labeling.steps == saved and labeling.draft_revision == revision
    assert client.put(draft, {"total_time_ms": 900}, format="json").status_code == 200
