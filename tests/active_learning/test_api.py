"""The loop's API and pages answer an application error through labeling's one edge
(labeling/error_edges.py) and decide access with labeling's role rules (labeling/permissions.py):
the same state gives the same status and body from a labeling endpoint and a loop endpoint.

On the old code the loop's API had a `handle_exception` of its own: a NotFound or a Conflict
came back as `{"detail": message}` without the `errors` list every other endpoint sends, and
its own copies of "lead or researcher" and "leads see every project, researchers their own"
could drift from labeling's."""

import pytest

from labeling.errors import ApplicationError, Conflict, NotFound
from labeling.models import Role
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

ERRORS = [
    (ApplicationError("refused", details=["field: must be a number"]), 400),
    (Conflict("busy right now"), 409),
    (NotFound("No such thing."), 404),
]
ERROR_IDS = ["ApplicationError", "Conflict", "NotFound"]


def _raising(error):
    def research_project(user, project_id):
        raise error

    return research_project


@pytest.mark.parametrize(("error", "status"), ERRORS, ids=ERROR_IDS)
def test_the_same_error_gives_the_same_status_and_body_from_labeling_and_the_loop_api(
    client, monkeypatch, error, status
):
    """Would catch the loop's API mapping an error on its own (another status, or a body
    without `errors`): both endpoints look their project up through `research_project`, which
    raises the same error here."""
    client.force_login(UserFactory(role=Role.LEAD))
    project = ProjectFactory()
    monkeypatch.setattr("labeling.api.research_project", _raising(error))
    monkeypatch.setattr("active_learning.api.research_project", _raising(error))
    labeling = client.get(f"/api/projects/{project.pk}/stats/")
    loop = client.get(f"/api/projects/{project.pk}/runs/")
    assert labeling.status_code == loop.status_code == status
    assert labeling.json() == loop.json() == {"detail": error.message, "errors": error.details}


@pytest.mark.parametrize(("error", "status"), ERRORS, ids=ERROR_IDS)
def test_the_same_error_gives_the_same_status_from_a_labeling_page_and_a_loop_page(
    client, monkeypatch, error, status
):
    """The HTML side: the statistics page (labeling/views.py) and the loop page
    (active_learning/views.py) answer the same error with the same status."""
    client.force_login(UserFactory(role=Role.LEAD))
    project = ProjectFactory()
    monkeypatch.setattr("labeling.views.research_project", _raising(error))
    monkeypatch.setattr("active_learning.views.research_project", _raising(error))
    labeling = client.get(f"/projects/{project.pk}/stats/")
    loop = client.get(f"/projects/{project.pk}/loop/")
    assert labeling.status_code == loop.status_code == status


@pytest.mark.parametrize(
    ("role", "member", "read", "write"),
    [
        (Role.ANNOTATOR, True, 403, 403),
        (Role.RESEARCHER, True, 200, 403),
        (Role.RESEARCHER, False, 404, 403),
        (Role.LEAD, False, 200, 400),
    ],
)
def test_the_loop_api_and_the_statistics_api_apply_the_same_role_rules(
    client, role, member, read, write
):
    """Would catch the loop's copy of "lead or researcher" / "leads see every project,
    researchers their own" drifting from labeling/permissions.py: a role reads the loop's runs
    exactly where it reads the project's statistics; only leads write (a bad body: 400)."""
    user = UserFactory(role=role)
    project = ProjectFactory()
    if member:
        project.members.add(user)
    client.force_login(user)
    stats = client.get(f"/api/projects/{project.pk}/stats/")
    runs = client.get(f"/api/projects/{project.pk}/runs/")
    assert stats.status_code == runs.status_code == read
    posted = client.post(
        f"/api/projects/{project.pk}/runs/", {"seed": "x"}, content_type="application/json"
    )
    assert posted.status_code == write
