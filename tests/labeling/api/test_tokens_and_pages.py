"""API tokens (create, use, revoke), rate limits on the token and login endpoints, the schema
and docs pages, and the data and token pages."""

import io

import pytest
from django.test import Client
from rest_framework.test import APIClient

from labeling.models import ApiToken, ExportJob, ImportJob, Project, Role
from tests.factories import UserFactory

from .research_helpers import annotator, client_for, import_samples, researcher

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_user_creates_uses_lists_and_revokes_named_tokens():
    project = import_samples()
    user = researcher(project)
    created = client_for(user).post("/api/tokens/", {"name": "laptop"}, format="json")
    assert created.status_code == 201
    key = created.json()["key"]
    assert len(key) >= 40 and created.json()["prefix"] == key[:8]
    stored = ApiToken.objects.get(user=user)
    assert key not in (stored.key_hash, stored.prefix)  # only a hash is kept

    client = with_token(key)
    assert client.get("/api/labelings/").json()["count"] == 12
    listing = client.get("/api/tokens/").json()
    assert [(t["name"], t["prefix"]) for t in listing] == [("laptop", key[:8])]
    assert "key" not in listing[0]
    assert listing[0]["last_used_at"] is not None

    assert client.delete(f"/api/tokens/{stored.pk}/").status_code == 204
    assert with_token(key).get("/api/labelings/").status_code == 401


def test_nobody_revokes_or_sees_another_users_token():
    owner, other = UserFactory(role=Role.LEAD), UserFactory(role=Role.LEAD)
    key = client_for(owner).post("/api/tokens/", {"name": "a"}, format="json").json()["key"]
    token = ApiToken.objects.get(user=owner)
    assert client_for(other).get("/api/tokens/").json() == []
    assert client_for(other).delete(f"/api/tokens/{token.pk}/").status_code == 404
    assert with_token(key).get("/api/tokens/").status_code == 200


def test_annotators_have_tokens_for_the_assignment_api_but_not_the_researcher_api():
    project = import_samples()
    user = annotator(project)
    key = client_for(user).post("/api/tokens/", {"name": "bot"}, format="json").json()["key"]
    assert with_token(key).get("/api/projects/").status_code == 200
    assert with_token(key).get("/api/labelings/").status_code == 403


def test_a_wrong_or_unknown_token_is_401():
    assert with_token("nope").get("/api/projects/").status_code == 401
    assert (
        with_token("0123456789abcdef0123456789abcdef01234567").get("/api/projects/").status_code
        == 401
    )


def test_token_obtain_with_a_password_and_its_rate_limit(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token_obtain": "3/min", "tokens": "60/min"},
    }
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    api_settings.reload()
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        user = UserFactory(role=Role.RESEARCHER)
        client = APIClient()
        wrong = {"username": user.username, "password": "wrong"}
        assert client.post("/api/auth/token/", wrong, format="json").status_code == 400
        right = {"username": user.username, "password": PASSWORD, "name": "ci"}
        response = client.post("/api/auth/token/", right, format="json")
        assert response.status_code == 201
        assert with_token(response.json()["key"]).get("/api/tokens/").status_code == 200
        client.post("/api/auth/token/", wrong, format="json")
        throttled = client.post("/api/auth/token/", right, format="json")
        assert throttled.status_code == 429
        assert ApiToken.objects.filter(user=user).count() == 1
    finally:
        settings.REST_FRAMEWORK = {k: v for k, v in settings.REST_FRAMEWORK.items()}
        api_settings.reload()
        SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


def test_the_login_form_refuses_after_repeated_failures(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    user = UserFactory(role=Role.ANNOTATOR)
    client = Client()
    for _ in range(3):
        response = client.post("/accounts/login/", {"username": user.username, "password": "x"})
        assert response.status_code == 200  # the form again, with its error
    blocked = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert blocked.status_code == 429
    assert b"Too many failed attempts" in blocked.content
    assert "_auth_user_id" not in client.session
    # another account from the same address is not affected
    other = UserFactory(role=Role.ANNOTATOR)
    ok = client.post("/accounts/login/", {"username": other.username, "password": PASSWORD})
    assert ok.status_code == 302


def test_a_successful_login_clears_the_failure_count(settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    user = UserFactory(role=Role.ANNOTATOR)
    client = Client()
    client.post("/accounts/login/", {"username": user.username, "password": "x"})
    assert (
        client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    ).status_code == 302
    client.logout()
    client.post("/accounts/login/", {"username": user.username, "password": "x"})
    assert (
        client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    ).status_code == 302


def test_the_schema_and_offline_docs_are_served():
    client = Client()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    body = schema.json()
    assert body["openapi"].startswith("3.")
    for path in ["/api/labelings/", "/api/exports/", "/api/imports/", "/api/tokens/"]:
        assert path in body["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"drf_spectacular_sidecar/swagger-ui-dist" in docs.content
    assert b"http://" not in docs.content.replace(b"http://testserver", b"")
    assert b"https://" not in docs.content
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert client.get("/api/redoc/").status_code == 200


def test_the_data_page_queues_exports_and_imports_and_refuses_annotators(settings, tmp_path):
    settings.JOBS_DIR = tmp_path
    project = import_samples()
    user = researcher(project)
    client = Client()
    client.force_login(user)
    page = client.get(f"/projects/{project.pk}/data/")
    assert page.status_code == 200 and b"Upload and import" in page.content
    response = client.post(
        f"/projects/{project.pk}/data/",
        {"export-format": "prm800k", "export-generation": "6", "export-quality_control": "false"},
    )
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert job.filters == {"generation": 6, "is_quality_control": False}
    upload = io.BytesIO(b'{"problem": "What is 1+1?", "answer": "2"}\n')
    upload.name = "probs.jsonl"
    response = client.post(
        f"/projects/{project.pk}/data/", {"import-kind": "problems", "import-file": upload}
    )
    assert response.status_code == 302
    assert ImportJob.objects.get().filename == "probs.jsonl"
    jobs_part = client.get(f"/projects/{project.pk}/data/?part=jobs", HTTP_HX_REQUEST="true")
    assert b'id="jobs"' in jobs_part.content and b"<h1>" not in jobs_part.content

    other = Client()
    other.force_login(annotator(project))
    assert other.get(f"/projects/{project.pk}/data/").status_code == 403
    outsider = Client()
    outsider.force_login(researcher(Project.objects.create(name="elsewhere")))
    assert outsider.get(f"/projects/{project.pk}/data/").status_code == 404


def test_the_token_page_shows_a_new_key_once_and_revokes():
    user = UserFactory(role=Role.ANNOTATOR)
    client = Client()
    client.force_login(user)
    page = client.post("/account/tokens/", {"name": "script"})
    token = ApiToken.objects.get(user=user)
    key = page.context["new_key"]
    assert key.encode() in page.content and key.startswith(token.prefix)
    assert key.encode() not in client.get("/account/tokens/").content
    client.post(f"/account/tokens/{token.pk}/revoke/")
    assert not ApiToken.objects.exists()


def test_home_links_to_the_data_page_and_every_page_to_the_tokens():
    project = import_samples()
    client = Client()
    client.force_login(researcher(project))
    page = client.get("/").content.decode()
    assert f'href="/projects/{project.pk}/data/"' in page
    assert 'href="/account/tokens/"' in page


@pytest.mark.parametrize("name", ["\u200b", " \u200b\u2060 ", "\ufeff"])
def test_a_token_name_of_only_invisible_characters_is_refused(name):
    """Catches POST /api/tokens/ with the name "\\u200b" answered 201: a token listed with
    what looks like no name (the blank check was `not name.strip()`)."""
    user = UserFactory(role=Role.RESEARCHER)
    response = client_for(user).post("/api/tokens/", {"name": name}, format="json")
    assert response.status_code == 400 and not ApiToken.objects.filter(user=user).exists()


def test_an_imported_project_name_of_only_invisible_characters_is_refused():
    """Catches `import_prm800k --project "\\u200b"` making a project with an invisible name."""
    from labeling.errors import ApplicationError
    from labeling.services.prm800k import project_get_or_create

    with pytest.raises(ApplicationError, match="project name is needed"):
        project_get_or_create("\u200b\u2060")
    assert not Project.objects.exists()
