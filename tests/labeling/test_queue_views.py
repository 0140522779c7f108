"""The lead's queue page and the annotator's "nothing left" messages."""

import pytest

from labeling.models import Labeling, Membership, Role
from labeling.services.assignments import assignment_next
from tests.factories import UserFactory
from tests.labeling.services.test_queue import annotator, make_project

pytestmark = pytest.mark.django_db


def test_lead_sees_waiting_in_progress_done_and_live_leases(client):
    project = make_project(solutions=3)
    holder = annotator(project, username="holder")
    task = assignment_next(user=holder, project=project).labeling
    lead = UserFactory(role=Role.LEAD)
    client.force_login(lead)
    html = client.get(f"/projects/{project.pk}/queue/").content.decode()
    assert "<td>2</td><td>1</td><td>0</td><td>3</td>" in html  # waiting, in progress, done, total
    assert "holder" in html and f"<td>{task.pk}</td>" in html
    response = client.post(f"/projects/{project.pk}/leases/{task.pk}/release/", follow=True)
    assert "back in the queue" in response.content.decode()
    assert Labeling.objects.get(pk=task.pk).status == "abandoned"


def test_settings_form_errors_keep_what_was_typed(client):
    project = make_project(solutions=1)
    client.force_login(UserFactory(role=Role.LEAD))
    response = client.post(
        f"/projects/{project.pk}/settings/",
        {
            "overlap": "0",
            "lease_minutes": "45",
            "qc_rate": "0.1",
            "screening_pass_mark": "0.75",
            "qc_pause_min_questions": "5",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'value="45"' in html and "errorlist" in html
    project.refresh_from_db()
    assert project.lease_minutes == 30


def test_settings_form_saves(client):
    project = make_project(solutions=1)
    client.force_login(UserFactory(role=Role.LEAD))
    response = client.post(
        f"/projects/{project.pk}/settings/",
        {
            "overlap": "3",
            "lease_minutes": "45",
            "qc_rate": "0.2",
            "screening_pass_mark": "0.8",
            "qc_pause_threshold": "0.5",
            "qc_pause_min_questions": "4",
        },
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.overlap, project.lease_minutes, project.qc_pause_threshold) == (3, 45, 0.5)


def test_annotators_cannot_open_the_queue_and_are_told_why(client):
    """Issue 14: an annotator opening a lead page of a project they belong to got "No such
    project." (a 404, as if it did not exist); now a styled 403 says who may open it."""
    project = make_project(solutions=1)
    client.force_login(annotator(project))
    response = client.get(f"/projects/{project.pk}/queue/")
    assert response.status_code == 403
    html = response.content.decode()
    assert 'data-testid="error-page"' in html and "Only project leads" in html


def test_home_explains_why_there_is_no_next_task(client):
    project = make_project(solutions=0)
    user = annotator(project)
    client.force_login(user)
    html = client.get(f"/?finished={project.pk}&reason=nothing_left").content.decode()
    assert f"Nothing to label in {project.name} right now." in html
    Membership.objects.filter(user=user).update(paused=True)
    response = client.post(f"/projects/{project.pk}/start/", follow=True)
    assert "paused because of quality-control results" in response.content.decode()


def test_screening_row_counts_annotators_and_only_annotators_are_listed(client):
    """Catches the queue page's screening row saying "Waiting 2 · Done 0" after three
    annotators finished screening (its items never close: every annotator answers them), and
    leads and researchers listed as annotators with screening "Not finished"; the statistics
    page's per-annotator screening list agrees."""
    from labeling.project_stats import project_statistics
    from tests.labeling.services.test_queue import label_with, make_screening

    project = make_project(solutions=3)
    make_screening(project, [[1, 1, 1], [1, -1]])
    for name in ("ann1", "ann2", "ann3"):
        user = annotator(project, username=name)
        label_with(assignment_next(user=user, project=project).labeling, [1, 1, 1])
        label_with(assignment_next(user=user, project=project).labeling, [1, -1])
    annotator(project, username="ann4")  # not started
    annotator(project, username="boss-lead", role=Role.LEAD)
    annotator(project, username="some-researcher", role=Role.RESEARCHER)
    client.force_login(UserFactory(role=Role.LEAD))
    html = client.get(f"/projects/{project.pk}/queue/").content.decode()
    screening_row = html.split("screening <span")[1].split("</tr>")[0]
    assert "<td>1</td><td>0</td><td>3</td><td>4</td>" in screening_row  # waiting 1, done 3
    annotators = html.split("<h2>Annotators</h2>")[1]
    assert "ann4" in annotators
    assert "boss-lead" not in annotators and "some-researcher" not in annotators
    rows = project_statistics(project, fresh=True)["qc"]
    assert sorted(row["username"] for row in rows) == ["ann1", "ann2", "ann3", "ann4"]
    assert [row["screening"] for row in rows].count("passed") == 3
