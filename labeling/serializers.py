"""Serializers of the researcher API (labeling/research_api.py)."""

import json

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labeling.exports import NeutralAs
from labeling.input_rules import (
    INT32,
    INT64,
    ColumnBoundsModelSerializer,
    JsonBooleanField,
    JsonIntegerField,
    JsonStringField,
    KnownFieldsSerializer,
    text_policy,
)
from labeling.json_types import is_json_integer, json_kind
from labeling.models import (
    ApiToken,
    ExportFormat,
    ExportJob,
    FinishReason,
    Generation,
    ImportJob,
    ImportKind,
    Labeling,
    Problem,
    Solution,
)
from labeling.permissions import research_projects
from labeling.services.prm800k_export import labeling_record


class ProblemSerializer(serializers.ModelSerializer):
    class Meta:
        model = Problem
        fields = [
            "id",
            "project",
            "text",
            "reference_solution",
            "reference_answer",
            "subject",
            "level",
            "external_id",
            "created_at",
        ]


class SolutionSerializer(serializers.ModelSerializer):
    steps = serializers.ListField(child=serializers.CharField(allow_blank=True), read_only=True)

    class Meta:
        model = Solution
        fields = [
            "id",
            "project",
            "problem",
            "steps",
            "final_answer",
            "generator",
            "source",
            "external_id",
            "metadata",
            "is_correct",
            "graded_at",
            "prm_score",
            "created_at",
        ]


class GenerationSerializer(serializers.ModelSerializer):
    solution_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Generation
        fields = ["id", "project", "number", "strategy", "params", "solution_count", "created_at"]


class Prm800kCompletionSerializer(serializers.Serializer):
    text = serializers.CharField()
    rating = serializers.IntegerField(
        allow_null=True, min_value=-1, max_value=1, help_text="-1, 0, 1, or null (not rated)"
    )
    flagged = serializers.BooleanField(allow_null=True, help_text="unsure")


class Prm800kStepSerializer(serializers.Serializer):
    completions = Prm800kCompletionSerializer(many=True)
    human_completion = serializers.JSONField(
        allow_null=True, help_text="the labeler's own step (phase 1), as released; else null"
    )
    chosen_completion = serializers.IntegerField(allow_null=True, min_value=0, max_value=INT32[1])


class Prm800kQuestionSerializer(serializers.Serializer):
    problem = serializers.CharField()
    ground_truth_solution = serializers.CharField(required=False)
    ground_truth_answer = serializers.CharField(allow_null=True)
    pre_generated_steps = serializers.ListField(child=serializers.CharField(), required=False)
    pre_generated_answer = serializers.CharField(required=False, allow_null=True)
    pre_generated_verifier_score = serializers.FloatField(required=False, allow_null=True)


class Prm800kLabelSerializer(serializers.Serializer):
    steps = Prm800kStepSerializer(many=True)
    total_time = serializers.IntegerField(
        help_text="milliseconds", allow_null=True, min_value=0, max_value=INT64[1]
    )
    finish_reason = serializers.ChoiceField(choices=FinishReason.choices)


class Prm800kRecordSerializer(serializers.Serializer):
    """One PRM800K line, as documented in PRM800K-FORMAT.md (docs/formats.md)."""

    labeler = serializers.CharField()
    timestamp = serializers.CharField()
    generation = serializers.IntegerField(allow_null=True, min_value=0, max_value=INT32[1])
    is_quality_control_question = serializers.BooleanField()
    is_initial_screening_question = serializers.BooleanField()
    question = Prm800kQuestionSerializer()
    label = Prm800kLabelSerializer()


class LabelingSerializer(serializers.ModelSerializer):
    """A submitted labeling: its ids and, as `record`, its PRM800K line as an object."""

    labeler = serializers.CharField(source="labeler.username", read_only=True)
    labeler_uuid = serializers.UUIDField(source="labeler.labeler_uuid", read_only=True)
    generation = serializers.IntegerField(
        source="generation.number", read_only=True, allow_null=True, default=None
    )
    problem = serializers.IntegerField(source="solution.problem_id", read_only=True)
    record = serializers.SerializerMethodField()

    class Meta:
        model = Labeling
        fields = [
            "id",
            "project",
            "solution",
            "problem",
            "labeler",
            "labeler_uuid",
            "generation",
            "finish_reason",
            "submitted_at",
            "total_time_ms",
            "is_quality_control",
            "is_screening",
            "record",
        ]

    @extend_schema_field(Prm800kRecordSerializer)
    def get_record(self, labeling) -> dict:
        if labeling.source_line is not None:
            return json.loads(labeling.source_line)
        return labeling_record(labeling)


# --- jobs -------------------------------------------------------------------------------------


class ProjectField(serializers.PrimaryKeyRelatedField):
    """A project the requesting user may export from and import into."""

    def get_queryset(self):
        return research_projects(self.context["request"].user)


class JsonProjectField(ProjectField):
    """`ProjectField` for a JSON body: the project's id only as a JSON integer (DRF's
    related field looks up "1" as 1). The import job's multipart form keeps `ProjectField`:
    a form has only strings."""

    default_error_messages = {"strict": "Expected a JSON integer, got {kind}."}

    def to_internal_value(self, data):
        if not is_json_integer(data):
            self.fail("strict", kind=json_kind(data))
        return super().to_internal_value(data)


class ExportFiltersSerializer(KnownFieldsSerializer):
    generation = JsonIntegerField(required=False, min_value=-1, max_value=INT32[1])
    labeler = JsonStringField(required=False, max_length=150, validators=[text_policy])
    submitted_after = serializers.DateTimeField(required=False)
    submitted_before = serializers.DateTimeField(required=False)
    finish_reason = serializers.ListField(
        child=serializers.ChoiceField(choices=FinishReason.choices), required=False, max_length=4
    )
    # JSON true/false only: "false" or 0 must not export the quality-control labelings
    is_quality_control = JsonBooleanField(required=False)
    is_screening = JsonBooleanField(required=False)
    neutral = serializers.ChoiceField(
        choices=[(n.value, n.value) for n in NeutralAs],
        required=False,
        help_text="Training formats: how a human Neutral step is labeled (default positive).",
    )

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        # stored as JSON, read back by the labeling filter
        for key in ("submitted_after", "submitted_before"):
            if key in values:
                values[key] = values[key].isoformat()
        return values


class ExportJobSerializer(KnownFieldsSerializer, serializers.ModelSerializer):
    project = JsonProjectField()
    format = serializers.ChoiceField(choices=ExportFormat.choices)
    filters = ExportFiltersSerializer(required=False)
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "project",
            "format",
            "filters",
            "status",
            "progress",
            "total",
            "row_count",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "download_url",
        ]
        read_only_fields = [
            "status",
            "progress",
            "total",
            "row_count",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_download_url(self, job) -> str | None:
        if job.status != "done":
            return None
        return reverse("api-export-download", args=[job.pk])


class ImportJobSerializer(KnownFieldsSerializer, serializers.ModelSerializer):
    project = ProjectField()
    kind = serializers.ChoiceField(choices=ImportKind.choices)
    file = serializers.FileField(write_only=True)
    generation = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=-1,
        max_value=INT32[1],
        help_text="Solutions only: the generation to add them to (default: a new one).",
    )
    created_by = serializers.CharField(source="created_by.username", read_only=True)

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "project",
            "kind",
            "file",
            "filename",
            "generation",
            "status",
            "progress",
            "total",
            "summary",
            "result",
            "error",
            "errors",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = [
            "filename",
            "status",
            "progress",
            "total",
            "summary",
            "result",
            "error",
            "errors",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def validate(self, attrs):
        if attrs.get("generation") is not None and attrs["kind"] != ImportKind.SOLUTIONS:
            raise serializers.ValidationError(
                {"generation": "Only solution imports go into a generation."}
            )
        return attrs


class ApiTokenSerializer(KnownFieldsSerializer, ColumnBoundsModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at"]
        read_only_fields = ["prefix", "created_at", "last_used_at"]


class NewApiTokenSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once; store it now.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]


class TokenObtainSerializer(KnownFieldsSerializer):
    username = JsonStringField(max_length=150)
    password = JsonStringField(max_length=4096, style={"input_type": "password"})
    name = JsonStringField(max_length=100, default="script", validators=[text_policy])
