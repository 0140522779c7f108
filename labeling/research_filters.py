"""Query filters of the researcher API (django-filter); exports take the same labeling filters."""

import contextlib
import uuid
from datetime import UTC

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django_filters.fields import IsoDateTimeField

from labeling.input_rules import INT16, INT32, INT64, text_policy
from labeling.models import FinishReason, Generation, Labeling, Problem, Solution


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC: the database need not accept every offset
    Python does (PostgreSQL refuses +17:18), and out-of-range values are a 400, not a 500."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is not None and value.tzinfo is not None:
            try:
                value = value.astimezone(UTC)
            except OverflowError:
                raise ValidationError("Date/time out of range.", code="invalid") from None
        return value


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class IntegerColumnFilter(django_filters.NumberFilter):
    """A filter on an integer column: a whole number within the column's range (`bounds`;
    default 64-bit, as ids), else a 400 that names the parameter, on every database. (A value
    the column cannot hold is an error in the request, not a search that finds nothing: issue
    13, "integers out of range give 400 everywhere".)"""

    field_class = forms.IntegerField

    def __init__(self, *args, bounds: tuple[int, int] = INT64, **kwargs):
        kwargs.setdefault("min_value", bounds[0])
        kwargs.setdefault("max_value", bounds[1])
        super().__init__(*args, **kwargs)


class StrictBooleanField(forms.Field):
    """`true` or `false` (Django's spellings `True`, `False` too, and a bool: an export's
    stored filters); empty or absent: no filter.
    Anything else is "Expected true or false.", where django-filter's NullBooleanField read it
    as "no filter" and answered everything (`?is_correct=maybe`)."""

    widget = forms.TextInput
    VALUES = {"true": True, "True": True, "false": False, "False": False}

    def to_python(self, value):
        if value in (None, ""):
            return None
        if type(value) is bool:  # an export's stored filters (JSON true/false)
            return value
        if value not in self.VALUES:
            raise ValidationError("Expected true or false.", code="invalid")
        return self.VALUES[value]


class BooleanFilter(django_filters.BooleanFilter):
    """A yes/no filter whose bad value is a 400 naming it (StrictBooleanField)."""

    field_class = StrictBooleanField


class LabelingFilter(django_filters.FilterSet):
    project = IntegerColumnFilter(field_name="project_id")
    generation = IntegerColumnFilter(
        field_name="generation__number",
        bounds=INT32,
        help_text="Generation number (-1: screening).",
    )
    labeler = django_filters.CharFilter(
        method="filter_labeler",
        validators=[text_policy],
        help_text="A labeler's user name or PRM800K labeler UUID.",
    )
    submitted_after = UtcIsoDateTimeFilter(
        field_name="submitted_at", lookup_expr="gte", help_text="Submitted at or after (ISO 8601)."
    )
    submitted_before = UtcIsoDateTimeFilter(
        field_name="submitted_at", lookup_expr="lt", help_text="Submitted before (ISO 8601)."
    )
    finish_reason = django_filters.MultipleChoiceFilter(choices=FinishReason.choices)
    is_quality_control = BooleanFilter()
    is_screening = BooleanFilter()
    solution = IntegerColumnFilter(field_name="solution_id")
    problem = IntegerColumnFilter(field_name="solution__problem_id")

    class Meta:
        model = Labeling
        fields = []

    def filter_labeler(self, queryset, name, value):
        condition = Q(labeler__username=value)
        with contextlib.suppress(ValueError):
            condition |= Q(labeler__labeler_uuid=uuid.UUID(value))
        return queryset.filter(condition)


class ProblemFilter(django_filters.FilterSet):
    project = IntegerColumnFilter(field_name="project_id")
    subject = django_filters.CharFilter()
    level = IntegerColumnFilter(bounds=INT16)
    external_id = django_filters.CharFilter()
    search = django_filters.CharFilter(field_name="text", lookup_expr="icontains")

    class Meta:
        model = Problem
        fields = []


class SolutionFilter(django_filters.FilterSet):
    project = IntegerColumnFilter(field_name="project_id")
    problem = IntegerColumnFilter(field_name="problem_id")
    generation = IntegerColumnFilter(
        field_name="generation_items__generation__number", bounds=INT32, distinct=True
    )
    is_correct = BooleanFilter()
    graded = BooleanFilter(field_name="graded_at", lookup_expr="isnull", exclude=True)
    generator = django_filters.CharFilter()
    source = django_filters.CharFilter()
    prm_score_min = django_filters.NumberFilter(field_name="prm_score", lookup_expr="gte")
    prm_score_max = django_filters.NumberFilter(field_name="prm_score", lookup_expr="lte")

    class Meta:
        model = Solution
        fields = []


class GenerationFilter(django_filters.FilterSet):
    project = IntegerColumnFilter(field_name="project_id")
    number = IntegerColumnFilter(bounds=INT32, help_text="Generation number (-1: screening).")

    class Meta:
        model = Generation
        fields = []
