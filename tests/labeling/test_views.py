import pytest

from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_login_page_has_the_auth_form(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html and 'name="password"' in html


def test_home_needs_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_logging_in_shows_the_projects_the_user_belongs_to(client):
    user = UserFactory(username="ann")
    mine = ProjectFactory(name="Mine")
    mine.members.add(user)
    ProjectFactory(name="Theirs")
    response = client.post("/accounts/login/", {"username": "ann", "password": "pw-for-tests"})
    assert response.status_code == 302
    html = client.get("/").content.decode()
    assert "Mine" in html and "Theirs" not in html


def test_static_vendor_assets_are_present():
    from django.contrib.staticfiles import finders

    for asset in (
        "vendor/htmx-2.0.11/htmx.min.js",
        "vendor/katex-0.16.47/katex.min.js",
        "vendor/katex-0.16.47/katex.min.css",
    ):
        assert finders.find(asset), asset
