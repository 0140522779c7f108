"""The loop's write APIs take only the JSON type a field names (labeling/json_types.py, the one
rule of the labeling APIs): an integer setting or override is a JSON integer (not "2", 2.0 or
true), a share or rate a finite JSON number (not "0.5" or true), a boolean JSON true or false
(not "true", 1, 0, "yes" or null). Each is a 400 naming the field, and nothing is stored and no
run is made. Before, DRF's fields coerced them ("yes" switched packing on, 2.0 became 2), and
the rule table took 3.0 as a count that then reached TrainConfig as a float."""

import json

import pytest

from active_learning.forms import LoopSettingsForm
from active_learning.loop.params import run_params
from active_learning.loop.settings_rules import LOOP_FIELD_RULES, LOOP_TRAIN_FIELDS, RULES, check
from active_learning.models import LoopSettings, Run
from active_learning.serializers import LoopSettingsSerializer
from labeling.errors import ApplicationError
from labeling.models import Role
from tests.active_learning.test_loop_views import SETTINGS_FORM
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

BAD = {
    "whole": ["2", 2.0, True, "2.0"],
    "number": ["0.5", True, False, [0.5]],
    "bool": ["true", "false", 1, 0, "yes", None, 1.0],
}
WRITABLE = [
    name
    for name, field in LoopSettingsSerializer().fields.items()
    if not field.read_only and name in LOOP_FIELD_RULES
]
CASES = [
    (name, value)
    for name in WRITABLE
    if RULES[LOOP_FIELD_RULES[name]].kind in BAD
    for value in BAD[RULES[LOOP_FIELD_RULES[name]].kind]
]


@pytest.fixture
def lead(client):
    user = UserFactory(role=Role.LEAD)
    client.force_login(user)
    return user


def _project(lead):
    project = ProjectFactory()
    project.members.add(lead)
    LoopSettings.objects.get_or_create(project=project)
    return project


def _stored(project):
    row = LoopSettings.objects.get(project=project)
    return {name: getattr(row, name) for name in LOOP_FIELD_RULES}


def _post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def test_every_number_and_boolean_setting_is_covered():
    """The cases below reach every integer, number and boolean loop setting."""
    assert {name for name, _ in CASES} == {
        name for name in WRITABLE if RULES[LOOP_FIELD_RULES[name]].kind in BAD
    }
    assert {"packing", "schedule_enabled", "wrong_share", "epochs"} <= {n for n, _ in CASES}


@pytest.mark.parametrize(("field", "value"), CASES, ids=repr)
def test_a_loop_setting_takes_only_its_json_type(client, lead, field, value):
    """Catches PATCH /loop-settings/ (and a run trigger's same override) coercing "yes", 1 or
    "2" into the setting."""
    project = _project(lead)
    before = _stored(project)
    url = f"/api/projects/{project.pk}/loop-settings/"
    patch = client.patch(url, json.dumps({field: value}), content_type="application/json")
    assert patch.status_code == 400, patch.content
    assert list(patch.json()) == [field], patch.content
    assert _stored(project) == before

    option = LOOP_FIELD_RULES[field].removeprefix("train.")
    if field in LOOP_TRAIN_FIELDS:
        body = {"train": {option: value}}
    elif field in ("retrain_every", "schedule_enabled", "schedule_minutes"):
        return  # settings only, not a run parameter
    else:
        body = {field: value}
    trigger = _post(client, f"/api/projects/{project.pk}/runs/", body)
    assert trigger.status_code == 400 and option in trigger.content.decode(), trigger.content
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"train": {"patience": 2.0}},
        {"train": {"evals_per_epoch": "3"}},
        {"train": {"lora_alpha": True}},
        {"train": {"warmup_ratio": "0.1"}},
        {"train": {"head_learning_rate": True}},
        {"generate": {"only_needed": 1}},
        {"generate": {"use_chat_template": "yes"}},
        {"generate": {"samples_per_problem": 2.0}},
        {"generate": {"top_p": "0.9"}},
    ],
    ids=repr,
)
def test_a_run_triggers_nested_options_take_only_their_json_type(client, lead, body):
    """Catches a training or generator option of a trigger coerced (`"yes"` as true)."""
    project = _project(lead)
    response = _post(client, f"/api/projects/{project.pk}/runs/", body)
    assert response.status_code == 400, response.content
    [(group, errors)] = response.json().items()
    assert group in body and list(errors) == list(body[group])
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"use_chat_template": "true"},
        {"only_needed": 0},
        {"samples_per_problem": "2"},
        {"temperature": True},
        {"problem_ids": ["1"]},
    ],
    ids=repr,
)
def test_a_generator_run_takes_only_json_types(client, lead, body):
    """Catches POST /generate/ coercing an option ("true" as true, "2" as 2)."""
    project = _project(lead)
    response = _post(client, f"/api/projects/{project.pk}/generate/", body)
    assert response.status_code == 400, response.content
    assert list(response.json()) == list(body)
    assert not Run.objects.exists()


@pytest.mark.parametrize("body", [{"regrade": "yes"}, {"regrade": 1}, {"regrad": True}], ids=repr)
def test_grading_takes_only_json_true_or_false_and_known_fields(client, lead, monkeypatch, body):
    """Catches `{"regrade": "yes"}` regrading every solution (DRF read it as true) and a
    misspelt `regrad` silently ignored (a plain grade queued instead of a regrade)."""
    from active_learning import grading

    queued = []
    monkeypatch.setattr(grading, "grading_enqueue", lambda *a, **k: queued.append(k) or True)
    project = _project(lead)
    response = _post(client, f"/api/projects/{project.pk}/grade/", body)
    assert response.status_code == 400, response.content
    assert list(response.json()) == list(body)
    assert queued == []


@pytest.mark.parametrize(
    ("name", "value"),
    [("epochs", 3.0), ("train.max_length", 512.0), ("batch_size", True), ("seed", 1.5)],
)
def test_the_rule_table_takes_a_count_only_as_an_int(name, value):
    """Catches run_params (the command line, the simulation, a retry) taking 3.0 as a count:
    it reached TrainConfig and range() as a float."""
    option = name.removeprefix("train.")
    values = {"train": {option: value}} if name.startswith("train.") else {name: value}
    assert [e.split(":")[0] for e in check(values)] == [name]
    with pytest.raises(ApplicationError):
        project = ProjectFactory()
        LoopSettings.objects.get_or_create(project=project)
        run_params(project, values)


@pytest.mark.parametrize(("field", "text"), [("wrong_share", "nan"), ("learning_rate", "inf")])
def test_the_settings_form_refuses_a_non_finite_number(field, text):
    """The form (text inputs) takes a number only when finite: NaN or an infinity would pass
    every range comparison's negation. Guards the form's side of the one rule."""
    project = ProjectFactory()
    row, _ = LoopSettings.objects.get_or_create(project=project)
    form = LoopSettingsForm({**SETTINGS_FORM, field: text}, instance=row)
    assert not form.is_valid() and field in form.errors
