"""Leads manage projects (issue 14): create, members with a role, guidelines; and gold labels
from an expert's first-error judgement (the demo's gold questions)."""

import pytest

from labeling.errors import ApplicationError
from labeling.models import GoldLabel, Labeling, Membership, Role, StepRating, User
from labeling.services.projects import (
    membership_add,
    membership_remove,
    project_create,
    project_guidelines_set,
    project_update,
)
from labeling.services.quality import gold_from_first_error
from tests.factories import LabelingFactory, ProjectFactory, SolutionFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_lead_creates_a_project_and_is_its_first_member():
    lead = UserFactory(role=Role.LEAD)
    project = project_create(name="  Geometry  ", description="triangles", created_by=lead)
    assert project.name == "Geometry" and list(project.members.all()) == [lead]
    with pytest.raises(ApplicationError, match="already exists"):
        project_create(name="Geometry", created_by=lead)
    with pytest.raises(ApplicationError, match="needs a name"):
        project_create(name="   ", created_by=lead)


def test_adding_a_new_name_invites_an_account_with_the_role_and_a_password_shown_once():
    project = ProjectFactory()
    membership, password = membership_add(project=project, username="newcomer", role="annotator")
    user = User.objects.get(username="newcomer")
    assert membership.user == user and user.role == Role.ANNOTATOR
    assert password and user.check_password(password)


def test_an_existing_user_is_added_with_their_own_role_only():
    project = ProjectFactory()
    researcher = UserFactory(username="rita", role=Role.RESEARCHER)
    with pytest.raises(ApplicationError, match="already registered as researcher"):
        membership_add(project=project, username="rita", role="lead")
    assert not Membership.objects.filter(project=project).exists()  # nothing changed
    membership, password = membership_add(project=project, username="rita", role="researcher")
    assert membership.user == researcher and password is None
    with pytest.raises(ApplicationError, match="already a member"):
        membership_add(project=project, username="rita", role="researcher")


def test_removing_a_member_keeps_their_labels():
    labeling = LabelingFactory()
    membership = Membership.objects.create(project=labeling.project, user=labeling.labeler)
    membership_remove(membership=membership)
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert Labeling.objects.filter(pk=labeling.pk).exists()


def test_guidelines_are_kept_as_plain_text_with_a_limit():
    project = ProjectFactory()
    project_guidelines_set(project=project, guidelines="  One.\r\nTwo.  ")
    project.refresh_from_db()
    assert project.guidelines == "One.\nTwo."
    with pytest.raises(ApplicationError, match="guidelines: 20,001 characters; at most"):
        project_guidelines_set(project=project, guidelines="x" * 20_001)


@pytest.mark.parametrize(
    ("first_error", "ratings", "finish"),
    [(1, [1, -1], "found_error"), (-1, [1, 1, 1], "solution"), (0, [-1], "found_error")],
)
def test_gold_from_a_first_error_rates_up_to_it(first_error, ratings, finish):
    solution = SolutionFactory(steps=["a", "b", "# Answer\n\n2"])
    experts = UserFactory(username="experts")
    gold = gold_from_first_error(solution=solution, first_error=first_error, labeler=experts)
    labeling = gold.labeling
    assert GoldLabel.objects.get(solution=solution) == gold
    assert [s["completions"][0]["rating"] for s in labeling.steps] == ratings
    assert labeling.finish_reason == finish and labeling.status == "submitted"
    # quality control, so neither the overlap nor the retrain trigger counts it
    assert labeling.is_quality_control and labeling.generation is None
    assert (
        list(
            StepRating.objects.filter(labeling=labeling)
            .order_by("step_index")
            .values_list("rating", flat=True)
        )
        == ratings
    )


def test_gold_from_a_first_error_outside_the_solution_is_refused():
    solution = SolutionFactory(steps=["a", "b"])
    with pytest.raises(ApplicationError, match="first_error: 2 is not a step"):
        gold_from_first_error(solution=solution, first_error=2, labeler=UserFactory())
    assert not GoldLabel.objects.exists()


@pytest.mark.parametrize("name", ["\u202eevil project", "\u200b", " \u200b\u2060 ", "a\x00b"])
def test_a_project_name_must_be_visible_and_within_the_text_policy(name):
    """Catches a project named "\\u202eevil project" (shown reversed) or only invisible
    characters ("\\u200b": a blank name) being created or renamed to."""
    lead = UserFactory(role=Role.LEAD)
    with pytest.raises(ApplicationError, match=r"^name: "):
        project_create(name=name, created_by=lead)
    project = ProjectFactory()
    with pytest.raises(ApplicationError, match=r"^name: "):
        project_update(project=project, name=name)


def test_a_project_description_is_within_the_text_policy():
    """Catches a description holding U+202E being stored on create or on update."""
    lead = UserFactory(role=Role.LEAD)
    with pytest.raises(ApplicationError, match=r"^description: .*U\+202E"):
        project_create(name="Algebra", description="see \u202eevil", created_by=lead)
    project = ProjectFactory()
    with pytest.raises(ApplicationError, match=r"^description: "):
        project_update(project=project, description="x\u202e")
    project_update(project=project, name=" Renamed ", description="ok\r\nfine")
    project.refresh_from_db()
    assert (project.name, project.description) == ("Renamed", "ok\nfine")


def test_guidelines_are_within_the_text_policy():
    """Catches guidelines holding a bidi override (U+202E) or a NUL being stored."""
    project = ProjectFactory()
    for bad in ("Rate \u202eevil", "a\x00b"):
        with pytest.raises(ApplicationError, match=r"^guidelines: contains"):
            project_guidelines_set(project=project, guidelines=bad)
    project_guidelines_set(project=project, guidelines=" one\r\n\ttwo ")
    assert project.guidelines == "one\n\ttwo"
