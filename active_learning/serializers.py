"""Shapes of the loop's API (active_learning/api.py)."""

from rest_framework import serializers

from active_learning.models import LoopSettings, Run, Strategy, TrainingMode


class RunSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    generation_number = serializers.IntegerField(
        source="generation.number", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Run
        fields = [
            "id",
            "project",
            "trigger",
            "requested_by",
            "retry_of",
            "status",
            "stage",
            "percent",
            "eta_seconds",
            "params",
            "labels_at_trigger",
            "candidates",
            "chunks_total",
            "dispatched_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "stage_seconds",
            "error",
            "model_version",
            "generation",
            "generation_number",
            "created_at",
        ]
        read_only_fields = fields


class RunDetailSerializer(RunSerializer):
    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "log"]
        read_only_fields = fields


class TrainOverridesSerializer(serializers.Serializer):
    """TrainConfig fields a run may override (pipeline.TRAIN_OVERRIDES)."""

    learning_rate = serializers.FloatField(required=False, min_value=0)
    head_learning_rate = serializers.FloatField(required=False, min_value=0)
    batch_size = serializers.IntegerField(required=False, min_value=1)
    max_length = serializers.IntegerField(required=False, min_value=16)
    patience = serializers.IntegerField(required=False, min_value=1)


class RunTriggerSerializer(serializers.Serializer):
    """Optional overrides of the project's loop settings for this run only."""

    batch_size = serializers.IntegerField(required=False, min_value=1)
    per_problem_cap = serializers.IntegerField(required=False, min_value=1)
    wrong_share = serializers.FloatField(required=False, min_value=0, max_value=1)
    strategy = serializers.ChoiceField(choices=Strategy.choices, required=False)
    seed = serializers.IntegerField(required=False)
    training_mode = serializers.ChoiceField(choices=TrainingMode.choices, required=False)
    epochs = serializers.IntegerField(required=False, min_value=1)
    backbone = serializers.CharField(required=False, allow_blank=True, max_length=500)
    keep_layers = serializers.IntegerField(required=False, min_value=1, allow_null=True)
    score_chunk_size = serializers.IntegerField(required=False, min_value=1)
    train = TrainOverridesSerializer(required=False)


class LoopSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = LoopSettings
        fields = [
            "project",
            "retrain_every",
            "batch_size",
            "per_problem_cap",
            "wrong_share",
            "strategy",
            "seed",
            "training_mode",
            "epochs",
            "backbone",
            "keep_layers",
            "score_chunk_size",
            "schedule_enabled",
            "schedule_minutes",
            "updated_at",
        ]
        read_only_fields = ["project", "updated_at"]
        extra_kwargs = {
            "wrong_share": {"min_value": 0, "max_value": 1},
            "batch_size": {"min_value": 1},
            "per_problem_cap": {"min_value": 1},
            "epochs": {"min_value": 1},
            "score_chunk_size": {"min_value": 1},
            "schedule_minutes": {"min_value": 1},
        }


class GradeSerializer(serializers.Serializer):
    regrade = serializers.BooleanField(default=False)


class QueuedSerializer(serializers.Serializer):
    queued = serializers.BooleanField()
    detail = serializers.CharField()
