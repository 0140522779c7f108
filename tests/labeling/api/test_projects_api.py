"""Project settings through the API, gold marking, and what annotators never see."""

import json

import pytest
from rest_framework.test import APIClient

from labeling.models import GenerationItem, GoldLabel, Role
from tests.factories import LabelingFactory, ProjectFactory, UserFactory
from tests.labeling.services.test_queue import annotator, gold_for, make_project

pytestmark = pytest.mark.django_db


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_projects_list_has_id_name_and_settings():
    project = ProjectFactory(name="Algebra")
    lead = UserFactory(role=Role.LEAD)
    body = client_for(lead).get("/api/projects/").json()
    row = next(p for p in body if p["id"] == project.pk)
    assert row["name"] == "Algebra"
    assert row["overlap"] == 1 and row["lease_minutes"] == 30 and row["qc_rate"] == 0.1
    assert row["screening_pass_mark"] == 0.75


def test_annotators_see_only_their_projects():
    mine, _ = ProjectFactory(), ProjectFactory()
    user = annotator(mine)
    assert [p["id"] for p in client_for(user).get("/api/projects/").json()] == [mine.pk]


def test_a_lead_patches_settings_and_the_queue_follows():
    project = make_project(solutions=1, overlap=1)
    item = GenerationItem.objects.get()
    item.submitted_count, item.is_open = 1, False
    item.save()
    lead = UserFactory(role=Role.LEAD)
    response = client_for(lead).patch(
        f"/api/projects/{project.pk}/",
        {"overlap": 2, "lease_minutes": 10, "qc_rate": 0.25, "screening_pass_mark": 0.8},
        format="json",
    )
    assert response.status_code == 200, response.json()
    project.refresh_from_db()
    assert (project.overlap, project.lease_minutes, project.qc_rate) == (2, 10, 0.25)
    item.refresh_from_db()
    assert item.is_open


@pytest.mark.parametrize(
    "body", [{"overlap": 0}, {"qc_rate": 1.5}, {"lease_minutes": -5}, {"screening_pass_mark": "x"}]
)
def test_bad_settings_are_400_and_change_nothing(body):
    project = ProjectFactory()
    response = client_for(UserFactory(role=Role.LEAD)).patch(
        f"/api/projects/{project.pk}/", body, format="json"
    )
    assert response.status_code == 400
    assert next(iter(body)) in response.json()
    project.refresh_from_db()
    assert (project.overlap, project.qc_rate, project.lease_minutes) == (1, 0.1, 30)


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.RESEARCHER])
def test_only_leads_change_settings_or_mark_gold(role):
    project = ProjectFactory()
    user = annotator(project, role=role)
    client = client_for(user)
    assert (
        client.patch(f"/api/projects/{project.pk}/", {"overlap": 3}, format="json").status_code
        == 403
    )
    labeling = LabelingFactory(solution__problem__project=project)
    assert client.post(f"/api/labelings/{labeling.pk}/gold/").status_code == 403
    assert not GoldLabel.objects.exists()


def test_a_lead_marks_gold():
    labeling = LabelingFactory()
    response = client_for(UserFactory(role=Role.LEAD)).post(f"/api/labelings/{labeling.pk}/gold/")
    assert response.status_code == 200
    assert GoldLabel.objects.get().labeling == labeling


def test_gold_never_reaches_the_annotator_in_a_quality_control_task(client):
    project = make_project(solutions=3, qc_rate=1.0)
    solution = GenerationItem.objects.get(rank=1).solution
    gold = gold_for(solution, [1, -1])
    gold.labeling.reason = "GOLD-REASON-MARKER"
    gold.labeling.save()
    GenerationItem.objects.filter(solution=solution).delete()  # gold is served as QC only
    user = annotator(project)
    api = client_for(user)
    task = api.post("/api/assignments/next/", {"project": project.pk}, format="json").json()
    # the annotator is not told that it is a gold question
    assert task["kind"] == "task" and task["solution"] == solution.pk
    detail = api.get(f"/api/assignments/{task['id']}/").json()
    assert detail["draft"]["steps"] == [] and detail["draft"]["reason"] == ""
    text = json.dumps(detail)
    assert "GOLD-REASON-MARKER" not in text and str(gold.labeling.labeler.labeler_uuid) not in text
    client.force_login(user)
    html = client.get(f"/tasks/{task['id']}/").content.decode()
    assert "GOLD-REASON-MARKER" not in html
    assert '"draft": {"steps": []' in html
    assert "quality" not in html.lower()  # the page does not tell a QC question apart


def test_204_says_why_in_a_header():
    project = make_project(solutions=0)
    response = client_for(annotator(project)).post(
        "/api/assignments/next/", {"project": project.pk}, format="json"
    )
    assert response.status_code == 204 and response["X-No-Task-Reason"] == "nothing_left"


def test_expired_or_foreign_submit_is_409_or_404_and_changes_nothing():
    from datetime import timedelta

    from django.utils import timezone

    from labeling.models import Labeling

    project = make_project(solutions=2)
    user = annotator(project)
    api = client_for(user)
    task = api.post("/api/assignments/next/", {"project": project.pk}, format="json").json()
    Labeling.objects.filter(pk=task["id"]).update(lease_expires_at=timezone.now() - timedelta(1))
    url = f"/api/assignments/{task['id']}/submit/"
    response = api.post(url, {"finish_reason": "give_up", "reason": "x"}, format="json")
    assert response.status_code == 409 and "expired" in response.json()["detail"]
    other = client_for(annotator(project))
    assert (
        other.post(url, {"finish_reason": "give_up", "reason": "x"}, format="json").status_code
        == 404
    )
    assert Labeling.objects.get(pk=task["id"]).status == "draft"
