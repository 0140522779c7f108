"""Labeling's writable API refuses a field it does not know (a 400 naming it, nothing changed),
where DRF alone drops it silently: a misspelt `overlapp` used to answer 200 and change
nothing. A client sending back what GET returned still works (issue 17)."""

import io

import pytest

from labeling.models import ApiToken, ExportJob, ImportJob
from tests.factories import ProjectFactory

from .research_helpers import client_for, lead, researcher

pytestmark = pytest.mark.django_db


def test_a_misspelt_project_setting_is_a_400_naming_it_and_changes_nothing():
    """Would catch PATCH /api/projects/<id>/ {"overlapp": 3} answering 200 with the overlap
    unchanged (the issue's example)."""
    project = ProjectFactory()
    client = client_for(lead())
    response = client.patch(
        f"/api/projects/{project.pk}/", {"overlapp": 3, "qc_rate": 0.5}, format="json"
    )
    assert response.status_code == 400 and "overlapp" in response.json(), response.content
    project.refresh_from_db()
    assert project.overlap == 1 and project.qc_rate == 0.1


def test_sending_back_what_get_returned_changes_only_what_was_edited():
    """Would catch the unknown-field rule refusing the read-only id and name a client got
    from GET and sends back with its edit."""
    project = ProjectFactory(name="Algebra")
    client = client_for(lead())
    body = client.get(f"/api/projects/{project.pk}/").json()
    response = client.patch(f"/api/projects/{project.pk}/", {**body, "overlap": 3}, format="json")
    assert response.status_code == 200, response.content
    project.refresh_from_db()
    assert project.overlap == 3 and project.name == "Algebra"


def test_an_export_with_an_unknown_field_or_filter_is_refused():
    """Would catch a misspelt filter (`labeller`) exporting every labeler's work."""
    project = ProjectFactory()
    client = client_for(researcher(project))
    body = {"project": project.pk, "format": "prm800k"}
    top = client.post("/api/exports/", {**body, "fromat": "csv"}, format="json")
    assert top.status_code == 400 and "fromat" in top.json(), top.content
    nested = client.post("/api/exports/", {**body, "filters": {"labeller": "ann"}}, format="json")
    assert nested.status_code == 400 and "labeller" in nested.json()["filters"], nested.content
    assert not ExportJob.objects.exists()
    ok = client.post("/api/exports/", body, format="json")
    assert ok.status_code == 201, ok.content
    again = client.post("/api/exports/", {**ok.json(), "project": project.pk}, format="json")
    assert again.status_code == 201, again.content  # what GET returned, sent back


def test_an_import_with_an_unknown_field_is_refused():
    """Would catch a misspelt import option (`generaton`) importing into the default."""
    project = ProjectFactory()
    client = client_for(lead())
    upload = io.BytesIO(b"{}\n")
    upload.name = "x.jsonl"
    response = client.post(
        "/api/imports/",
        {"project": project.pk, "kind": "problems", "file": upload, "generaton": 2},
        format="multipart",
    )
    assert response.status_code == 400 and "generaton" in response.json(), response.content
    assert not ImportJob.objects.exists()


def test_tokens_refuse_unknown_fields():
    """Would catch a token made while an unknown field (`expires`) the client relied on was
    silently dropped, on /api/tokens/ and on the login endpoint."""
    user = lead()
    client = client_for(user)
    response = client.post("/api/tokens/", {"name": "a", "expires": "2027"}, format="json")
    assert response.status_code == 400 and "expires" in response.json(), response.content
    assert not ApiToken.objects.exists()
    user.set_password("pw-123456")
    user.save()
    login = client_for(None).post(
        "/api/auth/token/",
        {"username": user.username, "password": "pw-123456", "expires": "2027"},
        format="json",
    )
    assert login.status_code == 400 and "expires" in login.json(), login.content
    assert not ApiToken.objects.exists()
