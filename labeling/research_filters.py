"""Query filters of the researcher API (django-filter); exports take the same labeling filters."""

import contextlib
import uuid
from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q
from django_filters.fields import IsoDateTimeField

from active_learning.models import ModelStatus, ModelVersion
from labeling.models import FinishReason, Labeling, Problem, Solution


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
    """A NumberFilter on an integer column: a value outside the 64-bit range matches nothing,
    on every database (PostgreSQL compares it as a numeric; SQLite would overflow: a 500)."""

    def filter(self, qs, value):
        if value not in (None, "") and not (-(2**63) <= value < 2**63):
            return qs.none()
        return super().filter(qs, value)


class LabelingFilter(django_filters.FilterSet):
    project = IntegerColumnFilter(field_name="project_id")
    generation = IntegerColumnFilter(
        field_name="generation__number", help_text="Generation number (-1: screening)."
    )
    labeler = django_filters.CharFilter(
        method="filter_labeler", help_text="A labeler's user name or PRM800K labeler UUID."
    )
    submitted_after = UtcIsoDateTimeFilter(
        field_name="submitted_at", lookup_expr="gte", help_text="Submitted at or after (ISO 8601)."
    )
    submitted_before = UtcIsoDateTimeFilter(
        field_name="submitted_at", lookup_expr="lt", help_text="Submitted before (ISO 8601)."
    )
    finish_reason = django_filters.MultipleChoiceFilter(choices=FinishReason.choices)
    is_quality_control = django_filters.BooleanFilter()
    is_screening = django_filters.BooleanFilter()
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
    level = IntegerColumnFilter()
    external_id = django_filters.CharFilter()
    search = django_filters.CharFilter(field_name="text", lookup_expr="icontains")

    class Meta:
        model = Problem
        fields = []


class SolutionFilter(django_filters.FilterSet):
    project = IntegerColumnFilter(field_name="project_id")
    problem = IntegerColumnFilter(field_name="problem_id")
    generation = IntegerColumnFilter(
        field_name="generation_items__generation__number", distinct=True
    )
    is_correct = django_filters.BooleanFilter()
    graded = django_filters.BooleanFilter(
        field_name="graded_at", lookup_expr="isnull", exclude=True
    )
    generator = django_filters.CharFilter()
    source = django_filters.CharFilter()
    prm_score_min = django_filters.NumberFilter(field_name="prm_score", lookup_expr="gte")
    prm_score_max = django_filters.NumberFilter(field_name="prm_score", lookup_expr="lte")

    class Meta:
        model = Solution
        fields = []


class ModelVersionFilter(django_filters.FilterSet):
    project = IntegerColumnFilter(field_name="project_id")
    status = django_filters.ChoiceFilter(choices=ModelStatus.choices)
    is_current = django_filters.BooleanFilter()

    class Meta:
        model = ModelVersion
        fields = []
