"""Integers out of range are a 400 that names the field, on PostgreSQL and SQLite alike (issue 13,
"Text that breaks things": `?generation=1e30` on the statistics API and page and
`qc_pause_min_questions=1000000` in a PATCH answered 500).

The examples fail on the old code (a 500 on one database or the other, or a value stored on
SQLite that PostgreSQL refuses). The guard below walks every serializer, form and filter of the
project, so a new integer input without bounds fails here before it fails in production."""

import django_filters
import pytest
from django import forms
from django.test import Client
from django.urls import get_resolver
from rest_framework import serializers

from labeling.input_rules import INT64
from labeling.models import Generation, Project, Role
from tests.factories import ProjectFactory, UserFactory

from .research_helpers import client_for, import_samples, lead

pytestmark = pytest.mark.django_db

HUGE = [str(10**30), "1e30", "99999999999999999999", str(-(10**30))]


@pytest.mark.parametrize("value", HUGE)
def test_statistics_api_refuses_a_generation_out_of_range(value):
    """Was a 500 on SQLite (10**30 overflowed its integers)."""
    project = ProjectFactory()
    response = client_for(lead()).get(f"/api/projects/{project.pk}/stats/?generation={value}")
    assert response.status_code == 400, response.content
    assert "generation" in response.json()


@pytest.mark.parametrize("value", HUGE)
def test_statistics_page_refuses_a_generation_out_of_range(value):
    """Was a 500 (10**30) or a 200 that silently ignored the filter (1e30)."""
    project = ProjectFactory()
    client = Client()
    client.force_login(UserFactory(role=Role.LEAD))
    response = client.get(f"/projects/{project.pk}/stats/", {"generation": value})
    assert response.status_code == 400
    assert b"generation" in response.content.lower()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("qc_pause_min_questions", 1_000_000),  # the example: smallint column
        ("qc_pause_min_questions", 32768),
        ("lease_minutes", 10**12),
        ("overlap", 10**30),
    ],
)
def test_project_patch_refuses_integers_its_columns_cannot_hold(field, value):
    """qc_pause_min_questions=1000000 was a 500 on PostgreSQL and stored on SQLite."""
    project = ProjectFactory()
    response = client_for(lead()).patch(
        f"/api/projects/{project.pk}/", {field: value}, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()
    project.refresh_from_db()
    assert getattr(project, field) == getattr(Project(), field)  # nothing stored


def test_project_settings_form_refuses_the_same_value_on_every_database():
    """The settings page stored 1000000 on SQLite (302) and refused it on PostgreSQL (400)."""
    project = ProjectFactory()
    client = Client()
    client.force_login(UserFactory(role=Role.LEAD))
    data = {"overlap": 1, "lease_minutes": 30, "qc_rate": 0.1, "screening_pass_mark": 0.75}
    response = client.post(
        f"/projects/{project.pk}/settings/", {**data, "qc_pause_min_questions": 1_000_000}
    )
    assert response.status_code == 400
    project.refresh_from_db()
    assert project.qc_pause_min_questions == 5


def test_loop_settings_patch_refuses_a_smallint_overflow_on_every_database():
    """per_problem_cap=1000000 was stored on SQLite (200) and refused on PostgreSQL."""
    project = ProjectFactory()
    response = client_for(lead()).patch(
        f"/api/projects/{project.pk}/loop-settings/", {"per_problem_cap": 10**6}, format="json"
    )
    assert response.status_code == 400
    assert "per_problem_cap" in response.json()


def test_run_overrides_refuse_integers_out_of_range():
    """A run accepted batch_size=10**30 (202) and kept it in its parameters."""
    project = ProjectFactory()
    client = client_for(lead())
    for field in ("batch_size", "seed", "score_chunk_size", "epochs"):
        response = client.post(f"/api/projects/{project.pk}/runs/", {field: 10**30}, format="json")
        assert response.status_code == 400, (field, response.content)
        assert field in response.json()


def test_next_task_refuses_a_project_id_out_of_range():
    """Was a 500 on SQLite (the id overflowed) and a 404 on PostgreSQL."""
    client = client_for(UserFactory(role=Role.ANNOTATOR))
    response = client.post("/api/assignments/next/", {"project": 10**30}, format="json")
    assert response.status_code == 400 and "project" in response.json()
    response = client.post("/api/assignments/next/", {"exclude": [10**30]}, format="json")
    assert response.status_code == 400 and "exclude" in response.json()


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/labelings/", "project"),
        ("/api/labelings/", "generation"),
        ("/api/solutions/", "problem"),
        ("/api/problems/", "level"),
        ("/api/model-versions/", "project"),
        ("/api/generations/", "number"),
    ],
)
@pytest.mark.parametrize("value", ["-1.4515763470889498e+225", str(10**30), "1.5"])
def test_integer_filters_refuse_values_their_column_cannot_hold(path, param, value):
    """A filter value no column can hold is a 400 naming the parameter (it used to match
    nothing, after it had been a 500 on SQLite; /api/generations/?number=1e30 still matched
    nothing)."""
    import_samples()
    response = client_for(lead()).get(path, {param: value})
    assert response.status_code == 400, response.content
    assert param in response.json()


def test_integer_filters_within_range_still_filter():
    project = import_samples()
    client = client_for(lead())
    assert client.get("/api/labelings/", {"generation": 6}).json()["count"] == 9
    assert client.get("/api/labelings/", {"project": -5}).json()["count"] == 0
    number = Generation.objects.get(project=project, number=6).number
    assert client.get("/api/generations/", {"number": number}).json()["count"] == 1


# --- the guard ------------------------------------------------------------------------------


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _ours(cls) -> bool:
    return cls.__module__.split(".")[0] in ("labeling", "active_learning")


def _integer_fields(serializer):
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        if isinstance(field, serializers.ListField):
            field = field.child
        if isinstance(field, serializers.IntegerField):
            yield name, field


def test_every_integer_input_has_bounds_a_64_bit_column_can_hold():
    """Every writable integer of every serializer, form and filter of the project has a
    minimum and a maximum within 64 bits (and so can never reach the database as a value it
    overflows). Catches the next integer input added without bounds."""
    get_resolver().url_patterns  # import every view module, and with it every serializer  # noqa: B018
    missing, checked = [], 0
    for cls in _subclasses(serializers.Serializer):
        if not _ours(cls) or (
            issubclass(cls, serializers.ModelSerializer) and not hasattr(cls, "Meta")
        ):
            continue
        serializer = cls(context={"request": None})
        for name, field in _integer_fields(serializer):
            checked += 1
            if field.min_value is None or field.max_value is None:
                missing.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
            elif not (INT64[0] <= field.min_value and field.max_value <= INT64[1]):
                missing.append(f"{cls.__qualname__}.{name}: beyond 64 bits")
    for cls in _subclasses(forms.BaseForm):
        if not _ours(cls) or (issubclass(cls, forms.ModelForm) and cls._meta.model is None):
            continue
        for name, field in cls().fields.items():
            # (Django's FloatField and DecimalField derive from IntegerField: not integers)
            if isinstance(field, forms.IntegerField) and not isinstance(
                field, forms.FloatField | forms.DecimalField
            ):
                checked += 1
                if field.min_value is None or field.max_value is None:
                    missing.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    for cls in _subclasses(django_filters.FilterSet):
        if not _ours(cls):
            continue
        for name, flt in cls.base_filters.items():
            if isinstance(flt, django_filters.NumberFilter):
                checked += 1
                model_field = cls._meta.model._meta.get_field(flt.field_name.split("__")[0])
                if flt.field_class is forms.IntegerField:
                    if flt.extra.get("min_value") is None or flt.extra.get("max_value") is None:
                        missing.append(f"{cls.__qualname__}.{name}")
                elif model_field.get_internal_type() != "FloatField":
                    missing.append(f"{cls.__qualname__}.{name}: a decimal filter on integers")
    assert checked > 30  # the whole surface, not a part of it
    assert missing == []
