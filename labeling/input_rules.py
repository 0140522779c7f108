"""What a request may carry: integers within the range of the column they meet, and text within
the text policy (`labeling.text_policy`), checked at the edge so that a bad value is a 400 (API)
or a form error that names the field, the same on PostgreSQL and SQLite.

Why here and not left to the database: PostgreSQL refuses a value past a `smallint` or `integer`
column (a 500 from the driver) where SQLite stores it, and Django's own range validators follow
the connection (SQLite gets 64-bit ranges), so without explicit bounds the two databases answer
the same request differently. The ranges below are PostgreSQL's, the narrower ones.

- Plain serializer and form fields name their bounds (`INT32`, `INT64`, `column_bounds`).
- `ColumnBoundsModelSerializer` and `ColumnBoundsModelForm` give every integer field a model
  field makes its column's range, and every text field the text policy.
- `KnownFieldsSerializer` refuses a field the serializer does not declare (DRF drops it
  silently, so a misspelt option would run with its default); the rule itself, shared with the
  annotator API's fast path and its step objects, is labeling/known_fields.py.
- `JsonIntegerField`, `JsonNumberField`, `JsonBooleanField` and `JsonStringField` take only
  the JSON type they name (no "2", 2.0 or true for an integer; no "true", 1 or "yes" for a
  boolean; no 5 for a string): one rule for every write API's integers, shares, booleans and
  strings, labeling's and the loop's (labeling/json_types.py, which the loop's rule table
  uses too). Query-string filters stay loose: a query string has only strings.
- A test walks every serializer, form and filter of the project and fails on an integer input
  without both bounds (tests/labeling/api/test_input_bounds.py).
"""

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.deconstruct import deconstructible
from rest_framework import serializers

from labeling.json_types import (
    is_json_bool,
    is_json_integer,
    is_json_number,
    is_json_string,
    json_kind,
)
from labeling.known_fields import unknown_fields
from labeling.text_policy import text_problem

INT16 = (-(2**15), 2**15 - 1)
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
ID = (1, INT64[1])  # our ids are 64-bit (DEFAULT_AUTO_FIELD is BigAutoField)

_RANGES = {
    "SmallIntegerField": INT16,
    "PositiveSmallIntegerField": (0, INT16[1]),
    "IntegerField": INT32,
    "PositiveIntegerField": (0, INT32[1]),
    "BigIntegerField": INT64,
    "PositiveBigIntegerField": (0, INT64[1]),
    "SmallAutoField": (1, INT16[1]),
    "AutoField": (1, INT32[1]),
    "BigAutoField": ID,
}


def column_range(model_field: models.Field) -> tuple[int, int] | None:
    """The values the column of `model_field` holds on every database (a foreign key: its
    target's), or None when it is not an integer column."""
    if model_field.is_relation and model_field.target_field is not None:
        model_field = model_field.target_field
    return _RANGES.get(model_field.get_internal_type())


def column_bounds(model: type[models.Model], name: str) -> dict:
    """`min_value` / `max_value` keyword arguments for a field stored in `model.name`."""
    low, high = column_range(model._meta.get_field(name))
    return {"min_value": low, "max_value": high}


@deconstructible
class TextPolicyValidator:
    """Refuses text outside the text policy: lone surrogates, control characters other than
    tab and line breaks (labeling/text_policy.py)."""

    def __call__(self, value):
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                raise ValidationError(f"Text {problem}.", code="text_policy")

    def __eq__(self, other):
        return isinstance(other, TextPolicyValidator)


text_policy = TextPolicyValidator()


def _narrowed(low, high, current_low, current_high) -> tuple:
    return (
        low if current_low is None else max(low, current_low),
        high if current_high is None else min(high, current_high),
    )


class KnownFieldsSerializer(serializers.Serializer):
    """A serializer that refuses input fields it does not declare: 400 with
    `{name: ["Unknown field."]}` for each, nested under its parent's name for a nested
    serializer. Read-only fields count as known (a client may send back what it read).
    `csrfmiddlewaretoken` (a form post through the browsable API) is ignored, and so are the
    names in `read_back_fields`: what the resource's GET returns beyond the input (e.g. `id`),
    so a client may send back what it read."""

    read_back_fields: tuple[str, ...] = ()

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            known = {*self.fields, *self.read_back_fields, "csrfmiddlewaretoken"}
            unknown = unknown_fields(data, known)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)

    @classmethod
    def known_fields(cls) -> frozenset[str]:
        """The top-level names an instance accepts (its fields, `read_back_fields`,
        `csrfmiddlewaretoken`), computed once per class: what the annotator API's fast path
        (labeling/api_fast.py) compares a request's keys with before serving it."""
        cached = cls.__dict__.get("_known_fields")
        if cached is None:
            cached = frozenset({*cls().fields, *cls.read_back_fields, "csrfmiddlewaretoken"})
            cls._known_fields = cached
        return cached


class JsonIntegerField(serializers.IntegerField):
    """An integer field that takes only a JSON integer: not a string ("2"), a float (2.0) or a
    boolean (true, which Python counts as 1); each is a 400 naming the field and saying what
    was expected. Bounds as `IntegerField` (`min_value`, `max_value`)."""

    default_error_messages = {"strict": "Expected a JSON integer, got {kind}."}

    def to_internal_value(self, data):
        if not is_json_integer(data):
            self.fail("strict", kind=json_kind(data))
        return super().to_internal_value(data)


class JsonNumberField(serializers.FloatField):
    """A number field (a share, a probability) that takes only a finite JSON number: not a
    string, a boolean, NaN or an infinity; each is a 400 naming the field and saying what was
    expected. Bounds as `FloatField` (`min_value`, `max_value`)."""

    default_error_messages = {"strict": "Expected a finite JSON number, got {kind}."}

    def to_internal_value(self, data):
        if not is_json_number(data):
            if type(data) in (int, float):
                self.fail("strict", kind=f"{data!r}, which is not finite")
            self.fail("strict", kind=json_kind(data))
        return super().to_internal_value(data)


class JsonBooleanField(serializers.BooleanField):
    """A boolean field that takes only JSON true or false: not a string ("true", "yes"), a
    number (1, 0) or null (unless `allow_null`), which DRF's BooleanField turns into a
    boolean; each is a 400 naming the field and saying what was expected. The same rule as
    `labeling.rating_rules` applies to a step's `flagged` (labeling/json_types.py)."""

    default_error_messages = {"strict": "Expected a JSON boolean (true or false), got {kind}."}

    def to_internal_value(self, data):
        if not is_json_bool(data):
            self.fail("strict", kind=json_kind(data))
        return data


class JsonStringMixin:
    """Before a CharField's own checks: only a JSON string (DRF's CharField stores the number
    5 as "5"); anything else is a 400 naming the field and saying what was expected. null and
    "" are the field's `allow_null` / `allow_blank` as before (DRF checks them first)."""

    default_error_messages = {"strict": "Expected a JSON string, got {kind}."}

    def to_internal_value(self, data):
        if not is_json_string(data):
            self.fail("strict", kind=json_kind(data))
        return super().to_internal_value(data)


class JsonStringField(JsonStringMixin, serializers.CharField):
    """A text field that takes only a JSON string (not 5 or 2.5). Options as `CharField`."""


def _strict_json(field_class: type) -> type:
    """The strict JSON field standing in for DRF's `field_class` (its integer, float, boolean
    and text fields; a CharField subclass such as EmailField keeps its own checks after the
    string one); any other unchanged."""
    if field_class is serializers.CharField:
        return JsonStringField
    if issubclass(field_class, serializers.CharField):
        return type(f"Json{field_class.__name__}", (JsonStringMixin, field_class), {})
    for loose, strict in (
        (serializers.BooleanField, JsonBooleanField),
        (serializers.IntegerField, JsonIntegerField),
        (serializers.FloatField, JsonNumberField),
    ):
        if issubclass(field_class, loose):
            return strict
    return field_class


class ColumnBoundsModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose integer fields keep to their column's range and whose text
    fields keep to the text policy, on every database, and whose integer, float, boolean and text
    model fields take only the JSON type (JsonIntegerField, JsonNumberField,
    JsonBooleanField, JsonStringField)."""

    serializer_field_mapping = {
        model_field: _strict_json(field_class)
        for model_field, field_class in serializers.ModelSerializer.serializer_field_mapping.items()
    }

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        column = column_range(model_field)
        if column is not None and issubclass(field_class, serializers.IntegerField):
            kwargs["min_value"], kwargs["max_value"] = _narrowed(
                *column, kwargs.get("min_value"), kwargs.get("max_value")
            )
        if issubclass(field_class, serializers.CharField):
            kwargs["validators"] = [*kwargs.get("validators", []), text_policy]
        return field_class, kwargs


class ColumnBoundsModelForm(forms.ModelForm):
    """A ModelForm whose integer fields keep to their column's range (shown as the input's
    min/max too) and whose text fields keep to the text policy, on every database."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            try:
                model_field = self._meta.model._meta.get_field(name)
            except Exception:  # a form-only field
                continue
            column = column_range(model_field)
            if column is not None and isinstance(field, forms.IntegerField):
                field.min_value, field.max_value = _narrowed(
                    *column, field.min_value, field.max_value
                )
                field.validators = [
                    v
                    for v in field.validators
                    if not isinstance(v, MinValueValidator | MaxValueValidator)
                ]
                field.validators += [
                    MinValueValidator(field.min_value),
                    MaxValueValidator(field.max_value),
                ]
                field.widget.attrs.update(min=field.min_value, max=field.max_value)
            elif isinstance(field, forms.CharField):
                field.validators.append(text_policy)
