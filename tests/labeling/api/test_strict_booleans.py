"""Boolean inputs of the write APIs take only JSON true or false (labeling.input_rules
.JsonBooleanField for serializer fields; `type(value) is bool` in the step rules): "true", 1,
0, "yes" or null is a 400 that names the field, the same body on the fast path and the DRF
path, and changes nothing. Before, DRF's BooleanField took "yes", 1 or "0" for the project's
`hints_enabled` and `phase1_mode` (a client's 0 meant to switch hints off could be read as
false, but "off" too; "no" turned them off and "n" errored), so a client's mistake silently
changed a setting. Runs on whichever database DATABASE_URL names."""

import pytest
from rest_framework.test import APIClient

from labeling.models import Project, Role
from tests.factories import ProjectFactory, UserFactory

from . import test_annotator_unknown_fields as annotator
from .test_fast_path import P

pytestmark = pytest.mark.django_db

hot_task = annotator.hot_task
phase1_task = annotator.phase1_task

BAD_BOOLEANS = ["true", "false", 1, 0, "yes", "no", "1", 1.0, [True], {"on": True}]
BOOLEAN_SETTINGS = ("hints_enabled", "phase1_mode")


def lead_client():
    client = APIClient()
    client.force_authenticate(UserFactory(role=Role.LEAD))
    return client


def flags_of(project) -> dict:
    project = Project.objects.get(pk=project.pk)
    return {name: getattr(project, name) for name in BOOLEAN_SETTINGS}


@pytest.mark.parametrize("field", BOOLEAN_SETTINGS)
@pytest.mark.parametrize("value", [*BAD_BOOLEANS, None], ids=repr)
def test_a_boolean_setting_takes_only_json_true_or_false(field, value):
    """Catches "yes", 1 or "0" taken as a boolean (DRF's BooleanField coerces them), and null
    for a setting that cannot be null."""
    project = ProjectFactory()
    before = flags_of(project)
    response = lead_client().patch(f"/api/projects/{project.pk}/", {field: value}, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body) == [field], body
    expected = "may not be null" if value is None else "Expected a JSON boolean"
    assert expected in body[field][0]
    assert flags_of(project) == before


@pytest.mark.parametrize("value", [True, False])
def test_json_true_and_false_are_taken(value):
    """The strict field still takes what it should."""
    project = ProjectFactory(hints_enabled=not value, phase1_mode=not value)
    body = {name: value for name in BOOLEAN_SETTINGS}
    response = lead_client().patch(f"/api/projects/{project.pk}/", body, format="json")
    assert response.status_code == 200, response.content
    assert flags_of(project) == body


@pytest.mark.parametrize("value", ["true", 1, 0, "yes", None, 1.0], ids=repr)
def test_a_steps_flagged_takes_only_true_or_false_on_both_paths(monkeypatch, hot_task, value):
    """Would catch a draft step's `flagged` coerced ("yes" stored as unsure) or the fast path
    and the DRF path answering it differently."""
    _, _, key, task = hot_task
    client = annotator.token_client(key)
    url = f"/api/assignments/{task}/draft/"
    steps = [P, {"rating": 1, "flagged": value}]
    send = lambda: client.put(url, {"steps": steps, "revision": 0}, format="json")  # noqa: E731
    answer = annotator.refused_both_ways(monkeypatch, send, by="fast")
    assert answer == {"detail": "steps[1].flagged: must be true or false", "errors": []}


@pytest.mark.parametrize(
    ("position", "field"),
    [
        ({"ratings": [1], "flagged": ["true"]}, "flagged"),
        ({"ratings": [1], "flagged": [1]}, "flagged"),
        ({"ratings": [1], "flagged": [None]}, "flagged"),
        ({"ratings": [1], "flagged": True}, "flagged"),
        ({"ratings": [1, 1, 1], "chosen": True}, "chosen"),
        ({"ratings": [1, 1, 1], "human": True}, "human"),
        ({"ratings": [1], "shown": False}, "shown"),
    ],
    ids=repr,
)
def test_a_phase1_positions_booleans_take_only_true_or_false(phase1_task, position, field):
    """Would catch a phase-1 position's `flagged` coerced, or a boolean taken as the index
    `chosen` (true is 1 in Python) or as a count."""
    client, url, _ = phase1_task
    before = annotator.snapshot()
    response = client.put(url, {"steps": [position]}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith(f"steps[0].{field}: ")
    assert annotator.snapshot() == before


@pytest.mark.parametrize("field", ["is_quality_control", "is_screening"])
@pytest.mark.parametrize("value", ["false", 0, "no", None], ids=repr)
def test_an_export_jobs_boolean_filter_takes_only_true_or_false(field, value):
    """Catches an export filter read from "no" or 0 (DRF's BooleanField coerces them): a job
    queued that exports other labelings than the client asked for. Nothing is queued."""
    from labeling.models import ExportJob

    from .research_helpers import client_for, researcher

    project = ProjectFactory()
    body = {"project": project.pk, "format": "prm800k", "filters": {field: value}}
    response = client_for(researcher(project)).post("/api/exports/", body, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["filters"] and field in response.json()["filters"]
    assert not ExportJob.objects.exists()
