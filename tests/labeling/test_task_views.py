"""The annotator's pages over HTTP: home, start, the task page (full and htmx fragment)."""

import pytest

from labeling.models import Generation, GenerationItem, Labeling, Role
from tests.factories import ProblemFactory, ProjectFactory, SolutionFactory, UserFactory

pytestmark = pytest.mark.django_db

SCRIPT = '<script>alert("x")</script>'


@pytest.fixture
def setup():
    project = ProjectFactory(name="Algebra")
    generation = Generation.objects.create(project=project, number=0)
    problem = ProblemFactory(
        project=project, text=f"Find $x$ {SCRIPT}", reference_answer="$\\frac12$"
    )
    solution = SolutionFactory(
        problem=problem,
        steps=[f"Step with {SCRIPT}", "Therefore $x=\\frac12$.\n\n# Answer\n\n\\frac12"],
    )
    GenerationItem.objects.create(generation=generation, solution=solution, rank=1)
    annotator = UserFactory(role=Role.ANNOTATOR)
    project.members.add(annotator)
    return project, annotator


def test_home_shows_waiting_and_done_today_with_a_start_button(client, setup):
    _, annotator = setup
    client.force_login(annotator)
    html = client.get("/").content.decode()
    assert "Start labeling" in html
    assert 'data-testid="waiting">1<' in html and 'data-testid="done-today">0<' in html


def test_start_redirects_to_the_task_and_nothing_left_says_so(client, setup):
    project, annotator = setup
    client.force_login(annotator)
    response = client.post(f"/projects/{project.pk}/start/")
    labeling = Labeling.objects.get(labeler=annotator)
    assert response.status_code == 302 and response["Location"] == f"/tasks/{labeling.pk}/"
    labeling.status = "submitted"
    labeling.finish_reason = "give_up"
    labeling.submitted_at = labeling.created_at
    labeling.save()
    response = client.post(f"/projects/{project.pk}/start/", follow=True)
    assert "Nothing to label in Algebra right now." in response.content.decode()


def test_task_page_escapes_data_and_splits_the_answer_block(client, setup):
    project, annotator = setup
    client.force_login(annotator)
    client.post(f"/projects/{project.pk}/start/")
    labeling = Labeling.objects.get(labeler=annotator)
    html = client.get(f"/tasks/{labeling.pk}/").content.decode()
    assert SCRIPT not in html
    assert "&lt;script&gt;" in html
    assert '# Answer: <span class="math tex">\\frac12</span>' in html
    assert html.count('aria-keyshortcuts="1">Negative <kbd aria-hidden="true">1</kbd>') == 2
    assert "katex.min.js" in html and "<html" in html


def test_htmx_request_gets_only_the_task_fragment(client, setup):
    project, annotator = setup
    client.force_login(annotator)
    client.post(f"/projects/{project.pk}/start/")
    labeling = Labeling.objects.get(labeler=annotator)
    html = client.get(f"/tasks/{labeling.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert html.lstrip().startswith('<section id="task-root"')
    assert "<html" not in html


def test_someone_elses_task_page_is_404(client, setup):
    project, annotator = setup
    client.force_login(annotator)
    client.post(f"/projects/{project.pk}/start/")
    labeling = Labeling.objects.get(labeler=annotator)
    client.force_login(UserFactory(role=Role.LEAD))
    assert client.get(f"/tasks/{labeling.pk}/").status_code == 404


def test_start_needs_post(client, setup):
    project, annotator = setup
    client.force_login(annotator)
    assert client.get(f"/projects/{project.pk}/start/").status_code == 405


def test_a_submitted_tasks_status_says_submitted(client, setup):
    """The save indicator of a submitted task said "Saved" (true, but not what happened)."""
    project, annotator = setup
    client.force_login(annotator)
    client.post(f"/projects/{project.pk}/start/")
    labeling = Labeling.objects.get(labeler=annotator)
    html = client.get(f"/tasks/{labeling.pk}/").content.decode()
    assert 'aria-live="polite">Saved</span>' in html
    Labeling.objects.filter(pk=labeling.pk).update(
        status="submitted", finish_reason="give_up", submitted_at=labeling.created_at
    )
    html = client.get(f"/tasks/{labeling.pk}/").content.decode()
    assert 'aria-live="polite">Submitted</span>' in html


def test_the_task_page_shows_guidelines_isolated_and_the_policy_refuses_new_ones(client, setup):
    """Catches guidelines holding U+202E being saved (Members -> Guidelines) and guidelines
    stored before the policy shown raw on every task, reordering what annotators read."""
    project, annotator = setup
    lead = UserFactory(role=Role.LEAD)
    project.members.add(lead)
    client.force_login(lead)
    response = client.post(
        f"/projects/{project.pk}/members/", {"guidelines": "Rate \u202eevil carefully"}
    )
    assert response.status_code == 400 and "U+202E" in response.content.decode()
    project.refresh_from_db()
    assert project.guidelines == ""
    project.guidelines = "Rate \u202eevil\ncarefully"  # stored before the policy
    project.save()
    client.force_login(annotator)
    client.post(f"/projects/{project.pk}/start/")
    labeling = Labeling.objects.get(labeler=annotator)
    html = client.get(f"/tasks/{labeling.pk}/").content.decode()
    assert "\u202e" not in html
    assert '<div class="text" dir="auto"><bdi>Rate [U+202E]evil\ncarefully</bdi></div>' in html
