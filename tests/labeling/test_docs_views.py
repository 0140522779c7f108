"""The docs pages the app links to (issue 14: "definitions in docs/statistics.md" was plain
text, not a link)."""

import pytest

from labeling.models import Role
from tests.factories import ProjectFactory, UserFactory


@pytest.mark.django_db
def test_the_statistics_page_links_to_the_rendered_definitions(client):
    project = ProjectFactory()
    client.force_login(UserFactory(role=Role.LEAD))
    dashboard = client.get(f"/projects/{project.pk}/stats/").content.decode()
    assert 'href="/docs/statistics/"' in dashboard
    page = client.get("/docs/statistics/")
    html = page.content.decode()
    assert page.status_code == 200 and "<h1>" in html and "Krippendorff" in html


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["nope", "..%2Fsettings", "README"])
def test_only_the_docs_folder_is_served(client, name):
    assert client.get(f"/docs/{name}/").status_code == 404


@pytest.mark.django_db
def test_links_between_docs_stay_in_the_app(client):
    html = client.get("/docs/api/").content.decode()
    assert 'href="/docs/statistics/"' in html and 'href="statistics.md"' not in html
