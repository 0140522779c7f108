"""The loop settings' one rule table (active_learning/loop/settings_rules.py, issue 17): the
form, the API and run_params refuse the same values naming the field, and the table agrees with
TrainConfig's guard, the model's CheckConstraints and the model's choices."""

import json
import math

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Q

from active_learning.forms import LoopSettingsForm
from active_learning.loop import settings_rules
from active_learning.loop.params import run_params
from active_learning.loop.settings_rules import LOOP_FIELD_RULES, LOOP_TRAIN_FIELDS, RULES, check
from active_learning.models import (
    LoopSettings,
    Precision,
    Run,
    Strategy,
    TrainingMode,
    TruncatedPolicy,
    WrongAllocation,
)
from active_learning.prm.train_config import TrainConfig
from labeling.errors import ApplicationError
from labeling.models import Role
from tests.active_learning.test_loop_views import SETTINGS_FORM
from tests.factories import ProjectFactory, UserFactory

NAN = float("nan")

# (LoopSettings field, hostile value); the budget case also sets max_length (`extra`)
HOSTILE = [
    ("batch_size", 0, {}),
    ("batch_size", -3, {}),
    ("batch_size", "many", {}),
    ("batch_size", True, {}),
    ("per_problem_cap", 0, {}),
    ("epochs", 0, {}),
    ("epochs", -1, {}),
    ("score_chunk_size", 0, {}),
    ("keep_layers", 0, {}),
    ("keep_layers", -2, {}),
    ("wrong_share", 1.5, {}),
    ("wrong_share", -0.1, {}),
    ("wrong_share", NAN, {}),
    ("wrong_share", "half", {}),
    ("strategy", "best", {}),
    ("wrong_allocation", "per_batch", {}),
    ("truncated_policy", "drop", {}),
    ("training_mode", "qlora", {}),
    ("learning_rate", 0, {}),
    ("learning_rate", -1e-4, {}),
    ("learning_rate", NAN, {}),
    ("learning_rate", "fast", {}),
    ("train_batch_size", 0, {}),
    ("grad_accumulation", 0, {}),
    ("lora_rank", 0, {}),
    ("lora_rank", False, {}),
    ("max_length", 8, {}),
    ("max_length", -512, {}),
    ("train_token_budget", 100, {"max_length": 512}),  # below one solution
    ("precision", "fp8", {}),
]


def _names(case):
    field, value, extra = case
    return f"{field}={value!r}" + (f"+{extra}" if extra else "")


@pytest.fixture
def lead(client):
    user = UserFactory(role=Role.LEAD)
    client.force_login(user)
    return user


def _form_value(value):
    if isinstance(value, bool):
        return str(value)  # what a hand-made post would carry
    return "NaN" if isinstance(value, float) and math.isnan(value) else str(value)


def _json_value(value):
    return "NaN" if isinstance(value, float) and math.isnan(value) else value


def _trigger_body(field, value, extra):
    """The same values as a trigger's overrides (training options under "train")."""
    body = {}
    for name, val in {field: value, **extra}.items():
        if name in LOOP_TRAIN_FIELDS:
            body.setdefault("train", {})[LOOP_TRAIN_FIELDS[name]] = val
        else:
            body[name] = val
    return body


def _stored(project):
    row = LoopSettings.objects.get(project=project)
    return {name: getattr(row, name) for name in LOOP_FIELD_RULES}


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value", "extra"), HOSTILE, ids=[_names(c) for c in HOSTILE])
def test_form_api_and_run_params_refuse_the_same_values_naming_the_field(
    client, lead, field, value, extra
):
    """Would catch one of the four copies of the rules drifting from the others: a value the
    settings form or the API saves that every run then refuses (keep_layers 0 was one), or a
    trigger override one path lets through. Each path answers with the field's name and leaves
    the stored settings and the run list as they were."""
    project = ProjectFactory()
    project.members.add(lead)
    LoopSettings.objects.get_or_create(project=project)
    before = _stored(project)
    rule_name = LOOP_FIELD_RULES[field]
    option = rule_name.removeprefix("train.")

    # the settings form
    data = {**SETTINGS_FORM, **{k: _form_value(v) for k, v in {field: value, **extra}.items()}}
    form = LoopSettingsForm(data, instance=LoopSettings.objects.get(project=project))
    assert not form.is_valid()
    assert field in form.errors, form.errors
    page = client.post(f"/projects/{project.pk}/loop/settings/", data)
    assert page.status_code == 400
    assert _stored(project) == before

    # the API: PATCH the settings
    patch = client.patch(
        f"/api/projects/{project.pk}/loop-settings/",
        json.dumps({k: _json_value(v) for k, v in {field: value, **extra}.items()}),
        content_type="application/json",
    )
    assert patch.status_code == 400 and field in patch.json(), patch.content
    assert _stored(project) == before

    # the API: a run trigger with the same overrides
    body = _trigger_body(field, _json_value(value), {k: _json_value(v) for k, v in extra.items()})
    trigger = client.post(
        f"/api/projects/{project.pk}/runs/", json.dumps(body), content_type="application/json"
    )
    assert trigger.status_code == 400 and option in trigger.content.decode(), trigger.content
    assert not Run.objects.exists()

    # run_params (the command line, the simulation, a retry)
    overrides = _trigger_body(field, value, extra)
    with pytest.raises(ApplicationError) as caught:
        run_params(project, overrides)
    assert any(detail.startswith(f"{rule_name}: ") for detail in caught.value.details), (
        caught.value.details
    )
    assert _stored(project) == before


def test_the_budget_rule_uses_the_message_of_the_issue():
    """Would catch the cross-field rule losing its field-named message (issue 17's example)."""
    assert check({"train": {"token_budget": 100, "max_length": 512}}) == [
        "train.token_budget: must be at least train.max_length (one solution)"
    ]
    assert check({"train": {"token_budget": 512, "max_length": 512}}) == []
    # max_length absent: TrainConfig's default (1536) binds
    assert check({"train": {"token_budget": 1024}}) == [
        "train.token_budget: must be at least train.max_length (one solution)"
    ]


# ---- the table against TrainConfig's guard ---------------------------------------------------

# table rule name -> TrainConfig field (the training options, and the run's epochs)
TRAIN_CONFIG_FIELDS = {
    **{name: name.removeprefix("train.") for name in RULES if name.startswith("train.")},
    "epochs": "epochs",
}


def _boundaries(rule):
    """(accepted, refused) values at each bound of a numeric rule."""
    step = 1 if rule.kind == "whole" else 1e-9
    accepted, refused = [], []
    if rule.minimum is not None:
        if rule.above:
            accepted.append(rule.minimum + (step if rule.kind == "whole" else 1e-12))
            refused.append(rule.minimum)
        else:
            accepted.append(rule.minimum)
        refused.append(rule.minimum - step)
    if rule.maximum is not None:
        accepted.append(rule.maximum)
        refused.append(rule.maximum + step)
    return accepted, refused


def _train_config_accepts(field, value) -> bool:
    # token_budget is bounded by max_length: give it the table's smallest max_length
    extra = (
        {"max_length": int(RULES["train.max_length"].minimum)} if field == "token_budget" else {}
    )
    try:
        TrainConfig(**{field: value, **extra})
    except ValueError:
        return False
    return True


BOUNDED = [name for name in TRAIN_CONFIG_FIELDS if RULES[name].kind in ("whole", "number")]


@pytest.mark.parametrize("name", BOUNDED)
def test_the_table_and_train_config_agree_on_every_bound(name):
    """Would catch a bound changed in the table or in TrainConfig alone (max_length was 16 in
    the loop's checks and 1 in TrainConfig): each of the table's boundary values is accepted,
    and each value just past it refused, by both."""
    rule, field = RULES[name], TRAIN_CONFIG_FIELDS[name]
    accepted, refused = _boundaries(rule)
    assert accepted or refused, f"{name} has no bound to compare"
    extra = (
        {"train": {"max_length": int(RULES["train.max_length"].minimum)}}
        if field == "token_budget"
        else {}
    )
    for value in accepted:
        values = {**extra, "train": {**extra.get("train", {}), field: value}}
        if name == "epochs":
            values = {"epochs": value}
        assert check(values) == [], (name, value)
        assert _train_config_accepts(field, value), (name, value)
    for value in refused:
        values = {**extra, "train": {**extra.get("train", {}), field: value}}
        if name == "epochs":
            values = {"epochs": value}
        assert check(values), (name, value)
        assert not _train_config_accepts(field, value), (name, value)


def test_the_table_and_train_config_agree_on_choices_and_the_budget_rule():
    """Would catch a precision one side knows and the other does not, or the budget rule
    dropped from either."""
    from active_learning.prm import train_config

    assert settings_rules.PRECISIONS == train_config.PRECISIONS
    # training modes: TrainConfig's plus the loop's "auto" (resolved before training)
    assert set(settings_rules.TRAINING_MODES) == {"auto", *train_config.MODES}
    assert not _train_config_accepts("precision", "fp8") and check({"train": {"precision": "fp8"}})
    assert TrainConfig().max_length == settings_rules.DEFAULT_MAX_LENGTH
    with pytest.raises(ValueError, match="token_budget"):
        TrainConfig(token_budget=100, max_length=512)
    assert check({"train": {"token_budget": 100, "max_length": 512}})


# ---- the table against the model ----------------------------------------------------------


def test_the_model_choices_are_the_tables():
    """Would catch a choice added to a model's TextChoices (and so to the form and the API)
    that the table, and so every run, refuses, or the reverse."""
    assert tuple(Strategy.values) == settings_rules.STRATEGIES
    assert tuple(WrongAllocation.values) == settings_rules.WRONG_ALLOCATIONS
    assert tuple(TruncatedPolicy.values) == settings_rules.TRUNCATED_POLICIES
    assert tuple(TrainingMode.values) == settings_rules.TRAINING_MODES
    assert tuple(Precision.values) == settings_rules.PRECISIONS


def test_the_edited_fields_are_the_model_fields_the_table_rules():
    """Would catch a LoopSettings field added to the model but not to the one field list
    (LOOP_SETTINGS_FIELDS, which the form, the API and run_params read), or listed there
    without a rule, so that it is edited or recorded unchecked."""
    model_fields = {
        field.name
        for field in LoopSettings._meta.concrete_fields
        if field.editable and not field.primary_key and field.name != "project"
    }
    assert set(settings_rules.LOOP_SETTINGS_FIELDS) == model_fields
    assert set(settings_rules.LOOP_SETTINGS_FIELDS) == set(LOOP_FIELD_RULES)
    assert len(settings_rules.LOOP_SETTINGS_FIELDS) == len(set(settings_rules.LOOP_SETTINGS_FIELDS))


def _constraint_bounds() -> dict[str, dict]:
    """{field: {lookup: value}} from LoopSettings' CheckConstraints (leaves of their Q)."""
    found: dict[str, dict] = {}

    def walk(node):
        for child in node.children:
            if isinstance(child, Q):
                walk(child)
            else:
                lookup, value = child
                field, _, op = lookup.partition("__")
                found.setdefault(field, {})[op] = value

    for constraint in LoopSettings._meta.constraints:
        condition = getattr(constraint, "condition", None)
        if condition is not None:
            walk(condition)
    return found


def test_every_table_bound_with_a_constraint_matches_it():
    """Would catch a CheckConstraint and the table disagreeing (the database refusing, as an
    IntegrityError, a value every form and run accepts, or storing one every run refuses)."""
    constraints = _constraint_bounds()
    compared = 0
    for field, rule_name in LOOP_FIELD_RULES.items():
        rule, bounds = RULES[rule_name], constraints.get(field, {})
        if "gte" in bounds and not hasattr(bounds["gte"], "resolve_expression"):
            assert (rule.minimum, rule.above) == (bounds["gte"], False), field
            compared += 1
        if "gt" in bounds:
            assert (rule.minimum, rule.above) == (bounds["gt"], True), field
            compared += 1
        if "lte" in bounds:
            assert rule.maximum == bounds["lte"], field
            compared += 1
        if "in" in bounds:
            assert tuple(bounds["in"]) == rule.choices, field
            compared += 1
        if "isnull" in bounds:
            assert rule.nullable, field
    # the budget rule: train_token_budget >= F("max_length")
    assert getattr(constraints["train_token_budget"]["gte"], "name", None) == "max_length"
    assert compared >= 15  # every constraint above was read, none skipped by a rename


@pytest.mark.django_db
def test_the_database_refuses_each_value_just_past_a_constrained_bound():
    """Would catch a constraint that reads right but is not in the migrations: the value just
    outside each constrained bound is an IntegrityError, the bound itself is stored."""
    project = ProjectFactory()
    row, _ = LoopSettings.objects.get_or_create(project=project)
    constraints = _constraint_bounds()
    for field, rule_name in LOOP_FIELD_RULES.items():
        rule, bounds = RULES[rule_name], constraints.get(field, {})
        if rule.kind not in ("whole", "number") or not ({"gte", "gt", "lte"} & set(bounds)):
            continue
        if field == "train_token_budget":
            continue  # its bound is max_length (the cross-field rule), checked below
        accepted, refused = _boundaries(rule)
        for value in accepted:
            LoopSettings.objects.filter(pk=row.pk).update(**{field: value})
        for value in refused:
            if value < 0 and rule.kind == "whole":
                continue  # a positive column's own range, not the constraint
            with pytest.raises(IntegrityError), transaction.atomic():
                LoopSettings.objects.filter(pk=row.pk).update(**{field: value})
    LoopSettings.objects.filter(pk=row.pk).update(max_length=512, train_token_budget=512)
    with pytest.raises(IntegrityError), transaction.atomic():
        LoopSettings.objects.filter(pk=row.pk).update(train_token_budget=511)


@pytest.mark.django_db
def test_the_admin_checks_the_same_rules(rf, admin_user):
    """Would catch the admin's *Loop settings* page saving what every run refuses (it used a
    plain ModelForm: keep_layers 0, a budget below max_length)."""
    from django.contrib import admin

    request = rf.get("/")
    request.user = admin_user
    row, _ = LoopSettings.objects.get_or_create(project=ProjectFactory())
    form_class = admin.site._registry[LoopSettings].get_form(request, row)
    base = {**SETTINGS_FORM, "project": row.project_id}
    assert form_class(base, instance=row).is_valid()
    for bad, field in (
        ({"keep_layers": "0"}, "keep_layers"),
        ({"train_token_budget": "100", "max_length": "512"}, "train_token_budget"),
        ({"learning_rate": "0"}, "learning_rate"),
    ):
        form = form_class({**base, **bad}, instance=row)
        assert not form.is_valid() and field in form.errors, (bad, form.errors)
