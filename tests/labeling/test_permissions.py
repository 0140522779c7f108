"""The three role rules (labeling/permissions.py), where they bind: every page and endpoint
under each rule refuses an annotator (403), and the project-scoped ones refuse a researcher of
another project (404: another project's existence does not leak). A view that forgot its rule,
or wrote a looser copy of it, fails here."""

import pytest
from rest_framework.test import APIClient

from labeling.models import ExportJob, Labeling, Project, Role
from labeling.permissions import is_lead, is_researcher, research_projects
from tests.factories import UserFactory

from .api.research_helpers import annotator, import_samples, lead, researcher

pytestmark = pytest.mark.django_db

# "lead": pages and endpoints that manage a project
LEAD_ONLY = [
    ("get", "/projects/{p}/queue/"),
    ("get", "/projects/{p}/members/"),
    ("post", "/projects/{p}/settings/"),
    ("post", "/projects/new/"),
    ("patch", "/api/projects/{p}/"),
    ("post", "/api/labelings/{l}/gold/"),
]
# "lead or researcher" and "leads see every project, researchers their own"
RESEARCH_OF_PROJECT = [
    ("get", "/projects/{p}/stats/"),
    ("get", "/projects/{p}/data/"),
    ("get", "/api/projects/{p}/stats/"),
    ("get", "/api/exports/{e}/"),
    ("get", "/api/exports/{e}/download/"),
    ("delete", "/api/exports/{e}/"),
]
RESEARCH_LISTS = ["/api/problems/", "/api/generations/", "/api/labelings/", "/api/exports/"]


@pytest.fixture
def world(settings, tmp_path):
    settings.JOBS_DIR = tmp_path / "jobs"
    project = import_samples()
    labeling = Labeling.objects.filter(project=project).first()
    export = ExportJob.objects.create(project=project, format="prm800k", created_by=lead())
    return {"p": project.pk, "l": labeling.pk, "e": export.pk, "project": project}


def _client(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def _call(user, method, url, world):
    return getattr(_client(user), method)(url.format(**world), {}, format="json")


@pytest.mark.parametrize(("method", "url"), LEAD_ONLY)
def test_lead_rule_refuses_annotators_and_researchers(world, method, url):
    project = world["project"]
    for user in (annotator(project), researcher(project)):
        assert _call(user, method, url, world).status_code == 403, (user.role, url)
    assert _call(lead(), method, url, world).status_code not in (403, 404)


@pytest.mark.parametrize(("method", "url"), RESEARCH_OF_PROJECT)
def test_research_rule_refuses_annotators_and_other_projects_researchers(world, method, url):
    project = world["project"]
    assert _call(annotator(project), method, url, world).status_code == 403
    outsider = researcher(Project.objects.create(name="other"))
    assert _call(outsider, method, url, world).status_code == 404
    allowed = [researcher(project)] if method == "delete" else [researcher(project), lead()]
    for user in allowed:  # (a delete succeeds once)
        assert _call(user, method, url, world).status_code not in (403, 404), url


@pytest.mark.parametrize("url", RESEARCH_LISTS)
def test_research_lists_hold_only_the_callers_projects(world, url):
    project = world["project"]
    assert _client(annotator(project)).get(url).status_code == 403
    outsider = researcher(Project.objects.create(name="other"))
    assert _client(outsider).get(url).json()["count"] == 0
    assert _client(researcher(project)).get(url).json()["count"] > 0


def test_the_rules_by_role():
    project = Project.objects.create(name="p")
    other = Project.objects.create(name="q")
    superuser = UserFactory(role=Role.ANNOTATOR, is_superuser=True)
    assert [is_lead(u) for u in (lead(), researcher(), annotator(), superuser)] == [
        True,
        False,
        False,
        True,
    ]
    assert [is_researcher(u) for u in (lead(), researcher(), annotator(), superuser)] == [
        True,
        True,
        False,
        True,
    ]
    assert set(research_projects(lead())) == {project, other}
    assert list(research_projects(researcher(project))) == [project]
    assert not research_projects(annotator(project)).exists()
