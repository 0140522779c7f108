"""Every remaining write field takes only its JSON type (labeling.input_rules: JsonStringField,
JsonIntegerField, JsonProjectField): a number for a string field, or a string for an integer
field, is a 400 that names the field and says what was expected, and changes nothing. Before,
DRF's CharField stored a give-up `reason` of 5 as "5" and a token `name` of 5 as "5", and its
IntegerField took "5" for a draft's `total_time_ms` and `revision`, the next task's `project`
and `exclude`, and the export filter's `generation`.

The annotator requests are sent with the fast path on and off from the same state
(`test_fast_path.check`): the DRF view answers both, with the same bytes. Runs on whichever
database DATABASE_URL names (SQLite and PostgreSQL answer alike)."""

import pytest
from django.urls import get_resolver
from rest_framework import serializers
from rest_framework.test import APIClient

from active_learning.models import LoopSettings, Run
from labeling.input_rules import (
    JsonBooleanField,
    JsonIntegerField,
    JsonNumberField,
    JsonStringMixin,
    KnownFieldsSerializer,
)
from labeling.models import Adjudication, ApiToken, ExportJob, Role
from labeling.serializers import JsonProjectField
from tests.factories import LabelingFactory, ProjectFactory, SolutionFactory, UserFactory

from . import test_annotator_unknown_fields as annotator
from .research_helpers import client_for
from .test_fast_path import P
from .test_input_bounds import _subclasses

pytestmark = pytest.mark.django_db

hot_task = annotator.hot_task
phase1_task = annotator.phase1_task

STRING = "Expected a JSON string, got an integer."
INTEGER = "Expected a JSON integer, got a string."

# (path under /api/assignments/, method, body, the field refused, its message)
ANNOTATOR_CASES = [
    ("next/", "post", {"project": "{project}"}, "project", INTEGER),
    ("next/", "post", {"exclude": ["1"]}, "exclude", INTEGER),
    ("{task}/draft/", "put", {"steps": [P], "total_time_ms": "5"}, "total_time_ms", INTEGER),
    ("{task}/draft/", "put", {"steps": [P], "revision": "0"}, "revision", INTEGER),
    ("{task}/submit/", "post", {"finish_reason": "give_up", "reason": 5}, "reason", STRING),
    (
        "{task}/submit/",
        "post",
        {"finish_reason": "give_up", "reason": "x", "total_time_ms": "5"},
        "total_time_ms",
        INTEGER,
    ),
    (
        "{task}/submit/",
        "post",
        {"finish_reason": "give_up", "reason": "x", "revision": "0"},
        "revision",
        INTEGER,
    ),
]


@pytest.mark.parametrize(
    ("path", "method", "body", "field", "message"),
    ANNOTATOR_CASES,
    ids=[f"{case[0]}{case[3]}" for case in ANNOTATOR_CASES],
)
def test_an_annotator_field_takes_only_its_json_type_on_both_paths(
    monkeypatch, hot_task, path, method, body, field, message
):
    """Catches "5" taken as an integer (a draft's time or revision, the next task's project)
    or 5 stored as the text "5" (a give-up reason), on either path, or the two paths
    answering differently."""
    project, _, key, task = hot_task
    client = annotator.token_client(key)
    url = "/api/assignments/" + path.format(task=task)
    body = {
        name: (value.format(project=project.pk) if isinstance(value, str) else value)
        for name, value in body.items()
    }
    send = lambda: getattr(client, method)(url, body, format="json")  # noqa: E731
    answer = annotator.refused_both_ways(monkeypatch, send, by="drf")
    assert list(answer) == [field], answer
    detail = answer[field] if field != "exclude" else answer[field]["0"]
    assert detail == [message]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"steps": [], "total_time_ms": "5"}, "total_time_ms"),
        ({"steps": [], "revision": "0"}, "revision"),
    ],
)
def test_a_phase1_save_takes_only_json_integers(phase1_task, body, field):
    """Catches a phase-1 draft saved with its time or revision sent as a string."""
    client, url, labeling = phase1_task
    response = client.put(url, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json() == {field: [INTEGER]}
    labeling.refresh_from_db()
    assert labeling.draft_revision == 0 and not labeling.total_time_ms


def researcher_client():
    user = UserFactory(role=Role.RESEARCHER)
    return client_for(user)


def test_a_token_name_takes_only_a_json_string():
    """Catches a token named 5 stored as "5" (POST /api/tokens/)."""
    response = researcher_client().post("/api/tokens/", {"name": 5}, format="json")
    assert response.status_code == 400, response.content
    assert response.json() == {"name": [STRING]}
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("field", ["username", "password", "name"])
def test_a_token_obtain_field_takes_only_a_json_string(field):
    """Catches a password of 1234 (or a username or token name) read as text."""
    user = UserFactory(username="five", role=Role.RESEARCHER)
    user.set_password("pw-long-enough")
    user.save()
    body = {"username": "five", "password": "pw-long-enough", "name": "script", field: 5}
    response = APIClient().post("/api/auth/token/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json() == {field: [STRING]}
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(
    ("body", "where", "message"),
    [
        ({"project": "{project}"}, ["project"], INTEGER),
        ({"filters": {"generation": "5"}}, ["filters", "generation"], INTEGER),
        ({"filters": {"labeler": 5}}, ["filters", "labeler"], STRING),
    ],
    ids=["project", "generation", "labeler"],
)
def test_an_export_job_takes_only_json_types(body, where, message):
    """Catches an export queued for project "1" or filtered on generation "5" or labeler 5
    (DRF looks "1" up as 1 and stores 5 as "5")."""
    project = ProjectFactory()
    user = UserFactory(role=Role.RESEARCHER)
    project.members.add(user)
    sent = {"project": project.pk, "format": "prm800k"}
    for name, value in body.items():
        sent[name] = value.format(project=project.pk) if isinstance(value, str) else value
    response = client_for(user).post("/api/exports/", sent, format="json")
    assert response.status_code == 400, response.content
    answer = response.json()
    for name in where:
        answer = answer[name]
    assert answer == [message]
    assert not ExportJob.objects.exists()


def test_an_adjudication_note_takes_only_a_json_string():
    """Catches a ruling's note of 5 stored as "5"."""
    project = ProjectFactory()
    solution = SolutionFactory(problem__project=project, steps=["a", "b"])
    LabelingFactory(solution=solution)
    client = APIClient()
    client.force_authenticate(UserFactory(role=Role.LEAD))
    url = f"/api/projects/{project.pk}/solutions/{solution.pk}/adjudication/"
    response = client.put(url, {"first_error": 1, "note": 5}, format="json")
    assert response.status_code == 400, response.content
    assert response.json() == {"note": [STRING]}
    assert not Adjudication.objects.exists()


@pytest.mark.parametrize(
    ("path", "method", "body", "where"),
    [
        ("runs/", "post", {"backbone": 5}, ["backbone"]),
        ("runs/", "post", {"train": {"attn_implementation": 5}}, ["train", "attn_implementation"]),
        ("runs/", "post", {"generate": {"model": 5}}, ["generate", "model"]),
        ("generate/", "post", {"stop": [5]}, ["stop", "0"]),
        ("loop-settings/", "patch", {"backbone": 5}, ["backbone"]),
    ],
    ids=["run-backbone", "run-train", "run-generate", "generate-stop", "loop-settings"],
)
def test_a_loop_text_field_takes_only_a_json_string(path, method, body, where):
    """Catches a run, a generator run or the loop settings taking the number 5 as the text
    "5" (a backbone, an attention implementation, a model, a stop string)."""
    project = ProjectFactory()
    LoopSettings.objects.get_or_create(project=project)
    before = list(LoopSettings.objects.filter(project=project).values())
    client = APIClient()
    client.force_authenticate(UserFactory(role=Role.LEAD))
    response = getattr(client, method)(f"/api/projects/{project.pk}/{path}", body, format="json")
    assert response.status_code == 400, response.content
    answer = response.json()
    for name in where:
        answer = answer[name]
    assert answer == [STRING]
    assert not Run.objects.exists()
    assert list(LoopSettings.objects.filter(project=project).values()) == before


# --- the guard ------------------------------------------------------------------------------

# JSON bodies only: the import job is multipart/form-data, whose fields are all text
FORM_SERIALIZERS = {"labeling.serializers.ImportJobSerializer"}
STRICT = (
    (serializers.CharField, JsonStringMixin),
    (serializers.IntegerField, JsonIntegerField),
    (serializers.FloatField, JsonNumberField),
    (serializers.BooleanField, JsonBooleanField),
    (serializers.RelatedField, JsonProjectField),
)


def _loose_fields(serializer, prefix=""):
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        while isinstance(field, serializers.ListField):
            field = field.child
        if isinstance(field, serializers.Serializer):
            yield from _loose_fields(field, f"{prefix}{name}.")
            continue
        for loose, strict in STRICT:
            if isinstance(field, loose) and not isinstance(field, strict):
                yield f"{prefix}{name}"


def test_every_json_write_field_takes_only_its_json_type():
    """Every writable string, integer, number, boolean and project field of every JSON write
    serializer (a KnownFieldsSerializer: the write APIs' inputs), nested ones and list items
    included, is the strict field of labeling.input_rules. Catches the next input added as a
    DRF CharField or IntegerField, which would take 5 as "5" or "5" as 5."""
    get_resolver().url_patterns  # import every view module, and with it every serializer  # noqa: B018
    loose, checked = [], 0
    for cls in _subclasses(KnownFieldsSerializer):
        name = f"{cls.__module__}.{cls.__qualname__}"
        if name in FORM_SERIALIZERS or (
            issubclass(cls, serializers.ModelSerializer) and not hasattr(cls, "Meta")
        ):
            continue
        checked += 1
        loose += [f"{name}.{field}" for field in _loose_fields(cls(context={"request": None}))]
    assert checked > 10
    assert not loose, loose
