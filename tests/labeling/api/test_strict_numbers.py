"""Integer and share inputs of the model-assisted labeling APIs (issue 19) take only a JSON
integer / a finite JSON number: a string ("2"), a float (2.0) or a boolean (true, which
Python counts as 1) for an integer, and a string, a boolean, NaN or an infinity for a share,
is a 400 that names the field and says what was expected, and changes nothing. Runs on
whichever database DATABASE_URL names (SQLite and PostgreSQL answer alike)."""

import json
import math

import pytest
from rest_framework.test import APIClient

from labeling.errors import ApplicationError
from labeling.models import Adjudication, Project, Role
from labeling.services.projects import project_update
from tests.factories import LabelingFactory, ProjectFactory, SolutionFactory, UserFactory

pytestmark = pytest.mark.django_db

BAD_INTEGERS = ["2", 2.0, True, False, "2.0", 1e0, [2], {"n": 2}]
BAD_SHARES = ["0.5", True, False, "NaN", float("nan"), float("inf"), -float("inf"), -0.1, 1.5]

# Every integer and share setting of PATCH /api/projects/<id>/ with a value it accepts.
INTEGER_SETTINGS = {
    "overlap": 2,
    "lease_minutes": 15,
    "qc_pause_min_questions": 3,
    "phase1_alternatives": 2,
    "disagreement_budget": 2,
    "disagreement_k": 1,
}
SHARE_SETTINGS = {
    "qc_rate": 0.5,
    "screening_pass_mark": 0.5,
    "qc_pause_threshold": 0.5,
    "hints_unhinted_share": 0.5,
    "disagreement_confidence": 0.5,
}


def lead_client():
    client = APIClient()
    client.force_authenticate(UserFactory(role=Role.LEAD))
    return client


def patch_raw(client, project, body: dict):
    # json.dumps writes NaN and Infinity as the bare tokens a careless client sends
    return client.patch(
        f"/api/projects/{project.pk}/", json.dumps(body), content_type="application/json"
    )


def settings_of(project) -> dict:
    project = Project.objects.get(pk=project.pk)
    return {name: getattr(project, name) for name in {**INTEGER_SETTINGS, **SHARE_SETTINGS}}


@pytest.mark.parametrize("field", sorted(INTEGER_SETTINGS))
@pytest.mark.parametrize("value", BAD_INTEGERS, ids=repr)
def test_an_integer_setting_takes_only_a_json_integer(field, value):
    """Catches "2", 2.0 or true accepted (coerced to 2 or 1) for an integer setting."""
    project = ProjectFactory()
    before = settings_of(project)
    response = patch_raw(lead_client(), project, {field: value})
    assert response.status_code == 400, response.content
    text = response.content.decode()
    assert field in text and "Expected a JSON integer" in text
    assert settings_of(project) == before


@pytest.mark.parametrize("field", sorted(SHARE_SETTINGS))
@pytest.mark.parametrize("value", BAD_SHARES, ids=repr)
def test_a_share_setting_takes_only_a_finite_json_number_in_range(field, value):
    """Catches "0.5" or true accepted as a share, and NaN or an infinity reaching the
    database; a JSON NaN/Infinity token is refused before it is read (a 400 as well)."""
    project = ProjectFactory()
    before = settings_of(project)
    response = patch_raw(lead_client(), project, {field: value})
    assert response.status_code == 400, response.content
    if isinstance(value, float) and not math.isfinite(value):
        assert "JSON" in response.content.decode()  # the parser's "JSON parse error"
    else:
        assert field in response.content.decode()
    assert settings_of(project) == before


def test_good_json_numbers_are_taken():
    """The strict fields still take what they should: an integer where a share is asked."""
    project = ProjectFactory()
    body = {**INTEGER_SETTINGS, **SHARE_SETTINGS, "hints_unhinted_share": 1}
    response = patch_raw(lead_client(), project, body)
    assert response.status_code == 200, response.content
    assert settings_of(project) == {**body, "hints_unhinted_share": 1.0}


@pytest.mark.parametrize(
    "changes",
    [
        {"overlap": True},
        {"lease_minutes": True},
        {"disagreement_k": True},
        {"hints_unhinted_share": True},
        {"qc_rate": float("nan")},
        {"disagreement_confidence": True},
        {"disagreement_confidence": float("inf")},
    ],
    ids=repr,
)
def test_the_service_refuses_a_bool_or_non_finite_setting_naming_it(changes):
    """The service (which the form and the API share) is strict too: catches True taken
    as 1 by an isinstance(value, int) check."""
    project = ProjectFactory()
    before = settings_of(project)
    with pytest.raises(ApplicationError) as caught:
        project_update(project=project, **changes)
    assert next(iter(changes)) in str(caught.value.details)
    assert settings_of(project) == before


@pytest.mark.parametrize("value", BAD_INTEGERS, ids=repr)
def test_the_adjudication_takes_only_a_json_integer(value):
    """Catches a ruling stored from "2", 2.0 or true (coerced to 2 or 1)."""
    project = ProjectFactory()
    solution = SolutionFactory(problem__project=project, steps=["a", "b", "c", "d"])
    LabelingFactory(solution=solution)
    url = f"/api/projects/{project.pk}/solutions/{solution.pk}/adjudication/"
    response = lead_client().put(url, {"first_error": value}, format="json")
    assert response.status_code == 400, response.content
    text = response.content.decode()
    assert "first_error" in text and "Expected a JSON integer" in text
    assert not Adjudication.objects.exists()
    assert lead_client().put(url, {"first_error": 2}, format="json").status_code == 200
