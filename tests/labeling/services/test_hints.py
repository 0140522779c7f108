"""Pre-labels as hints (issue 19, labeling/services/hints.py): the arm chosen at assignment,
the hint recorded when the task opens, shown to the hinted arm only, never as a rating."""

import re

import pytest

from active_learning.models import ModelStatus, ModelVersion, SolutionScore
from labeling import hint_rules
from labeling.models import Generation, GenerationItem, HintArm, Labeling, Role
from labeling.services import assignments
from tests.factories import ProjectFactory, SolutionFactory, UserFactory

pytestmark = pytest.mark.django_db

STEPS = ["First $x=1$.", "Then $x=3$.", "So $y=2$.\n\n# Answer\n\n2"]
SCORES = [0.95, 0.2, 0.6]  # the PRM's first error: step index 1, P(error) = 0.8


def _project(*, hints=True, share=0.0, n=1):
    project = ProjectFactory(hints_enabled=hints, hints_unhinted_share=share, qc_rate=0)
    generation = Generation.objects.create(project=project, number=0)
    solutions = [SolutionFactory(problem__project=project, steps=STEPS) for _ in range(n)]
    for rank, solution in enumerate(solutions):
        GenerationItem.objects.create(generation=generation, solution=solution, rank=rank)
    return project, solutions


def _model(project, solutions, scores=SCORES, current=True):
    version = ModelVersion.objects.create(
        project=project, status=ModelStatus.READY, is_current=current, backbone="tiny"
    )
    for solution in solutions:
        SolutionScore.objects.create(
            model_version=version, solution=solution, score=0.1, step_scores=scores
        )
    return version


def _annotator(project):
    user = UserFactory(role=Role.ANNOTATOR)
    project.members.add(user)
    return user


def _open_task(client, user, project):
    client.force_login(user)
    client.post(f"/projects/{project.pk}/start/")
    labeling = Labeling.objects.get(labeler=user)
    return labeling, client.get(f"/tasks/{labeling.pk}/").content.decode()


def test_hinted_task_shows_a_marker_at_the_prm_first_error_and_no_rating(client):
    """The marker sits in step 2's card (index 1) with P = 0.80; no rating button is pressed
    and the draft has no rating (catches a pre-filled rating); the labeling records the
    version whose hint was shown."""
    project, solutions = _project()
    version = _model(project, solutions)
    labeling, html = _open_task(client, _annotator(project), project)
    labeling.refresh_from_db()
    assert labeling.hint_arm == HintArm.HINTED
    assert labeling.hint_model_version == version.pk
    assert (labeling.hint_first_error, labeling.hint_probability) == (1, pytest.approx(0.8))
    cards = re.split(r'<li class="step card" data-index="', html)[1:]
    assert [i for i, card in enumerate(cards) if 'data-role="prm-hint"' in card] == [1]
    assert "p&nbsp;=&nbsp;0.80" in cards[1]
    assert 'aria-pressed="true"' not in html
    assert labeling.steps == []


def test_the_api_carries_the_hint_and_an_unrated_draft(client):
    project, solutions = _project()
    version = _model(project, solutions)
    user = _annotator(project)
    labeling = assignments.assignment_next(user=user, project=project).labeling
    client.force_login(user)
    state = client.get(f"/api/assignments/{labeling.pk}/").json()
    assert state["hint"] == {
        "model_version": version.pk,
        "first_error": 1,
        "probability": pytest.approx(0.8),
    }
    assert all(step["rating"] is None for step in state["draft"]["steps"])


def test_the_unhinted_arm_sees_nothing_but_records_what_it_would_have_seen(client):
    """Share 1: every task is unhinted. Catches a hint leaking to the control arm, and a
    control arm with no PRM record (the bias statistics compare both to the PRM)."""
    project, solutions = _project(share=1.0)
    version = _model(project, solutions)
    labeling, html = _open_task(client, _annotator(project), project)
    labeling.refresh_from_db()
    assert labeling.hint_arm == HintArm.UNHINTED
    assert 'data-role="prm-hint"' not in html
    assert labeling.hint_model_version == version.pk and labeling.hint_first_error == 1
    client.force_login(labeling.labeler)
    assert client.get(f"/api/assignments/{labeling.pk}/").json()["hint"] is None


def test_hints_off_by_default_record_no_arm_and_show_nothing(client):
    project, solutions = _project(hints=False)
    assert ProjectFactory().hints_enabled is False
    _model(project, solutions)
    labeling, html = _open_task(client, _annotator(project), project)
    labeling.refresh_from_db()
    assert labeling.hint_arm == HintArm.NONE and labeling.hint_model_version is None
    assert 'data-role="prm-hint"' not in html


def test_no_stored_scoring_by_the_current_model_means_no_hint(client):
    """A score by a version that is not current is not used (catches reading any version)."""
    project, solutions = _project()
    _model(project, solutions, current=False)
    labeling, html = _open_task(client, _annotator(project), project)
    labeling.refresh_from_db()
    assert labeling.hint_arm == HintArm.HINTED and labeling.hint_model_version is None
    assert 'data-role="prm-hint"' not in html


def test_the_recorded_hint_stays_when_a_new_model_becomes_current(client):
    """A reload after a new version is published shows the hint first shown (catches a hint
    that changes under the annotator and a record that no longer says what was shown)."""
    project, solutions = _project()
    first = _model(project, solutions)
    labeling, _ = _open_task(client, _annotator(project), project)
    ModelVersion.objects.filter(pk=first.pk).update(is_current=False)
    _model(project, solutions, scores=[0.9, 0.9, 0.1])
    html = client.get(f"/tasks/{labeling.pk}/").content.decode()
    labeling.refresh_from_db()
    assert labeling.hint_model_version == first.pk and labeling.hint_first_error == 1
    cards = re.split(r'<li class="step card" data-index="', html)[1:]
    assert [i for i, card in enumerate(cards) if 'data-role="prm-hint"' in card] == [1]


def test_no_error_predicted_says_so_above_the_steps(client):
    project, solutions = _project()
    _model(project, solutions, scores=[0.9, 0.8, 0.7])
    labeling, html = _open_task(client, _annotator(project), project)
    labeling.refresh_from_db()
    assert labeling.hint_first_error == hint_rules.NO_ERROR and labeling.hint_probability is None
    assert "the model sees no error in this solution" in html


def test_the_share_chosen_at_assignment_is_the_recorded_rule():
    """Each of 60 tasks (over both claim paths: the fast PostgreSQL claim and the ORM draft)
    gets the arm hint_rules.hint_arm names for it, so the recorded share is the configured
    one up to the hash's sampling (tested in test_hint_rules)."""
    project, solutions = _project(share=0.5, n=60)
    user = _annotator(project)
    arms = {}
    for _ in solutions:
        task = assignments.assignment_next(user=user, project=project).labeling
        Labeling.objects.filter(pk=task.pk).update(status="abandoned")
        arms[task.solution_id] = Labeling.objects.get(pk=task.pk).hint_arm
    assert len(arms) == 60
    expected = {
        s.pk: hint_rules.hint_arm(
            project_id=project.pk, user_id=user.pk, solution_id=s.pk, unhinted_share=0.5
        )
        for s in solutions
    }
    assert arms == expected
    assert set(arms.values()) == {HintArm.HINTED, HintArm.UNHINTED}


def test_a_lead_turns_hints_on_through_the_api_and_a_bad_share_changes_nothing(client):
    """PATCH /api/projects/<id>/ takes both settings; a share of 1.5 is a 400 naming the
    field and leaves the project as it was."""
    project = ProjectFactory()
    client.force_login(UserFactory(role=Role.LEAD))
    url = f"/api/projects/{project.pk}/"
    response = client.patch(
        url,
        {"hints_enabled": True, "hints_unhinted_share": 0.25},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["hints_enabled"] is True
    response = client.patch(url, {"hints_unhinted_share": 1.5}, content_type="application/json")
    assert response.status_code == 400 and "hints_unhinted_share" in response.content.decode()
    project.refresh_from_db()
    assert (project.hints_enabled, project.hints_unhinted_share) == (True, 0.25)


def test_hints_switched_off_mid_task_hide_the_hint_and_never_rate(client):
    """A lead turns hints off while a hinted task is open: the reload and the API show no
    hint (catches a recorded hint still shown), the record stays, and the draft has no
    rating either way."""
    project, solutions = _project()
    version = _model(project, solutions)
    labeling, html = _open_task(client, _annotator(project), project)
    assert 'data-role="prm-hint"' in html
    project.hints_enabled = False
    project.save()
    html = client.get(f"/tasks/{labeling.pk}/").content.decode()
    assert 'data-role="prm-hint"' not in html and 'aria-pressed="true"' not in html
    state = client.get(f"/api/assignments/{labeling.pk}/").json()
    assert state["hint"] is None
    assert all(step["rating"] is None for step in state["draft"]["steps"])
    labeling.refresh_from_db()
    assert (labeling.hint_arm, labeling.hint_model_version) == (HintArm.HINTED, version.pk)


def test_a_later_share_does_not_reroll_a_task_already_assigned(client):
    """Share 0 at assignment (hinted); the lead then sets share 1: the open task keeps its
    arm and hint on reload, while the next task is drawn with the new share (catches an arm
    recomputed at open time)."""
    project, solutions = _project(share=0.0, n=2)
    _model(project, solutions)
    labeling, _ = _open_task(client, _annotator(project), project)
    project.hints_unhinted_share = 1.0
    project.save()
    html = client.get(f"/tasks/{labeling.pk}/").content.decode()
    labeling.refresh_from_db()
    assert labeling.hint_arm == HintArm.HINTED and 'data-role="prm-hint"' in html
    Labeling.objects.filter(pk=labeling.pk).update(status="abandoned")
    task = assignments.assignment_next(user=labeling.labeler, project=project).labeling
    assert task.solution_id != labeling.solution_id and task.hint_arm == HintArm.UNHINTED


def test_two_tabs_opening_the_task_across_a_new_model_keep_one_hint(client):
    """The first open records version 1's hint; a second tab opening after version 2 is
    current sees the same hint (catches a second record overwriting the first)."""
    project, solutions = _project()
    first = _model(project, solutions)
    user = _annotator(project)
    labeling = assignments.assignment_next(user=user, project=project).labeling
    client.force_login(user)
    one = client.get(f"/api/assignments/{labeling.pk}/").json()["hint"]
    ModelVersion.objects.filter(pk=first.pk).update(is_current=False)
    _model(project, solutions, scores=[0.1, 0.9, 0.9])
    two = client.get(f"/api/assignments/{labeling.pk}/").json()["hint"]
    assert one == two and two["model_version"] == first.pk and two["first_error"] == 1


@pytest.mark.parametrize("kind", ["quality_control", "screening"])
def test_a_quality_control_or_screening_task_is_never_pre_rated(client, kind):
    """A quality-control task is in an arm like any task (its hint may show; the page does
    not tell it apart) and a screening question has none (no hint, no record); in both the
    page presses no rating and the API's draft has none."""
    from django.utils import timezone

    from labeling.services.leases import new_draft

    project, solutions = _project()
    _model(project, solutions)
    user = _annotator(project)
    labeling = new_draft(
        user=user,
        project=project,
        solution_id=solutions[0].pk,
        generation_id=Generation.objects.get(project=project).pk,
        now=timezone.now(),
        **{kind: True},
    )
    client.force_login(user)
    html = client.get(f"/tasks/{labeling.pk}/").content.decode()
    state = client.get(f"/api/assignments/{labeling.pk}/").json()
    labeling.refresh_from_db()
    assert 'aria-pressed="true"' not in html and labeling.steps == []
    assert all(step["rating"] is None for step in state["draft"]["steps"])
    if kind == "screening":
        assert labeling.hint_arm == HintArm.NONE and labeling.hint_model_version is None
        assert 'data-role="prm-hint"' not in html and state["hint"] is None
    else:
        assert labeling.hint_arm == HintArm.HINTED and state["hint"]["first_error"] == 1


def test_a_phase1_task_records_no_hint_so_the_statistics_never_count_it_as_hinted(client):
    """Phase-1 tasks show no hint (docs/model-assisted.md), so none may be recorded: the
    statistics count a hinted labeling with a recorded hint as one that was shown. Catches a
    stored scoring of the step-less solution (an empty list: "no error") being recorded."""
    project, _ = _project(n=0)
    solution = SolutionFactory(problem__project=project, steps=[])
    GenerationItem.objects.create(
        generation=Generation.objects.get(project=project), solution=solution, rank=0
    )
    _model(project, [solution], scores=[])
    labeling, html = _open_task(client, _annotator(project), project)
    labeling.refresh_from_db()
    assert labeling.solution_id == solution.pk
    assert labeling.hint_model_version is None
    assert 'data-role="prm-hint"' not in html


def test_a_truncated_scoring_that_sees_no_error_gives_no_hint(client):
    """The stored scoring covers the kept steps only (a long solution is truncated): with no
    error among them the model has not seen the rest, so the page must not say "the model
    sees no error in this solution" and nothing is recorded. An error inside the kept steps
    is still a valid first-error hint."""
    project, solutions = _project()
    _model(project, solutions, scores=[0.9, 0.8])  # 2 of the 3 steps kept, no error
    labeling, html = _open_task(client, _annotator(project), project)
    labeling.refresh_from_db()
    assert labeling.hint_model_version is None
    assert "the model sees no error" not in html

    project, solutions = _project()
    _model(project, solutions, scores=[0.9, 0.2])  # the error at step 2 is inside
    labeling, html = _open_task(client, _annotator(project), project)
    labeling.refresh_from_db()
    assert labeling.hint_first_error == 1
