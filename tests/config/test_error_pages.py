"""The styled error pages for what Django answered bare (config/error_views.py): a GET on a
URL that only takes a form (require_POST: an empty 405) and a form sent without a valid CSRF
token (Django's unstyled "403 Forbidden"). Under /api/ the answers stay JSON."""

import pytest
from django.test import Client, RequestFactory

from config.error_views import csrf_failure
from labeling.models import Role
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

FORM_ONLY = [
    "/projects/new/",
    "/projects/{id}/settings/",
    "/projects/{id}/phase1/",
    "/projects/{id}/loop/settings/",
]


@pytest.mark.parametrize("url", FORM_ONLY)
def test_a_get_on_a_form_only_url_is_a_styled_405(client, url):
    """Would catch a GET on a POST-only page answering an empty 405 (a blank browser page)
    instead of the site's styled error page; the status and the Allow header stay."""
    project = ProjectFactory()
    client.force_login(UserFactory(role=Role.LEAD))
    response = client.get(url.format(id=project.pk), HTTP_ACCEPT="text/html")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    html = response.content.decode()
    assert 'data-testid="error-page"' in html and "Error 405" in html
    assert "takes a form" in html and "POST" in html


def test_a_members_post_without_a_csrf_token_is_a_styled_403():
    """Would catch a form sent without a CSRF token (an old tab) getting Django's unstyled
    "403 Forbidden" page instead of the site's page saying the form expired."""
    project = ProjectFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(role=Role.LEAD))
    response = client.post(f"/projects/{project.pk}/members/", {"username": "x"})
    assert response.status_code == 403
    html = response.content.decode()
    assert 'data-testid="error-page"' in html and "The form expired" in html
    assert "Reload the page and try again" in html


def test_api_answers_stay_json(client):
    """Would catch the styled pages reaching the API: a GET on a POST-only API view stays
    DRF's JSON 405, and the CSRF failure view answers JSON under /api/."""
    client.force_login(UserFactory(role=Role.LEAD))
    response = client.get("/api/assignments/next/", HTTP_ACCEPT="*/*")
    assert response.status_code == 405
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()
    request = RequestFactory().post("/api/assignments/next/")
    refused = csrf_failure(request, reason="CSRF token missing.")
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/json"
    assert b"CSRF Failed: CSRF token missing." in refused.content
