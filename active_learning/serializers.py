"""Shapes of the loop's API (active_learning/api.py)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from active_learning.generator.options import MAX_NEW_TOKENS, MAX_SAMPLES_PER_PROBLEM
from active_learning.loop.settings_rules import (
    LOOP_FIELD_RULES,
    LOOP_SETTINGS_FIELDS,
    check_loop_settings,
    field_bounds,
)
from active_learning.models import (
    LoopSettings,
    Precision,
    Run,
    Strategy,
    TrainingMode,
    TruncatedPolicy,
    WrongAllocation,
)
from labeling.input_rules import (
    INT32,
    ColumnBoundsModelSerializer,
    JsonBooleanField,
    JsonIntegerField,
    JsonNumberField,
    JsonStringField,
    KnownFieldsSerializer,
    column_bounds,
    text_policy,
)


class RunSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    generation_number = serializers.IntegerField(
        source="generation.number", read_only=True, allow_null=True, default=None
    )
    waiting_for = serializers.SerializerMethodField(
        help_text="What a run that has not started training waits for, when known, e.g. "
        '"Waiting for the feature-cache warm-up (120 of 232 solutions)"; null otherwise.'
    )

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_waiting_for(self, run: Run) -> str | None:
        from active_learning.selectors import run_waiting_for

        return run_waiting_for(run)

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
            "waiting_for",
            "percent",
            "eta_seconds",
            "progress_note",
            "throughput",
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


class TrainOverridesSerializer(KnownFieldsSerializer):
    """TrainConfig fields a run may override (loop.params.TRAIN_OVERRIDES); any other field is
    a 400 naming it (`fsdp` too: the loop trains on one worker process). Bounds from the rule
    table (loop.settings_rules); run_params checks the rest of its rules."""

    learning_rate = JsonNumberField(required=False, min_value=0)
    head_learning_rate = JsonNumberField(required=False, min_value=0)
    batch_size = JsonIntegerField(
        required=False, **{"max_value": INT32[1], **field_bounds("train.batch_size")}
    )
    token_budget = JsonIntegerField(
        required=False,
        allow_null=True,
        **{"max_value": INT32[1], **field_bounds("train.token_budget")},
    )
    max_length = JsonIntegerField(
        required=False, **{"max_value": INT32[1], **field_bounds("train.max_length")}
    )
    patience = JsonIntegerField(
        required=False, **{"max_value": INT32[1], **field_bounds("train.patience")}
    )
    grad_accumulation = JsonIntegerField(
        required=False, **{"max_value": INT32[1], **field_bounds("train.grad_accumulation")}
    )
    lora_rank = JsonIntegerField(
        required=False, **{"max_value": INT32[1], **field_bounds("train.lora_rank")}
    )
    lora_alpha = JsonIntegerField(required=False, min_value=1, max_value=INT32[1])
    gradient_checkpointing = JsonBooleanField(required=False)
    packing = JsonBooleanField(required=False)
    precision = serializers.ChoiceField(choices=Precision.choices, required=False)
    attn_implementation = JsonStringField(required=False, max_length=32)
    warmup_ratio = JsonNumberField(required=False, **field_bounds("train.warmup_ratio"))
    weight_decay = JsonNumberField(required=False, **field_bounds("train.weight_decay"))
    evals_per_epoch = JsonIntegerField(required=False, min_value=1, max_value=1000)


class GeneratorOptionsSerializer(KnownFieldsSerializer):
    """The generator's options (active_learning/generator/options.py; docs/generator.md). Shape
    and bounds here; the template and the rest are checked by the service (400 naming the
    field). Every field is optional: the defaults are the service's."""

    model = JsonStringField(
        required=False,
        allow_blank=True,
        max_length=200,
        validators=[text_policy],
        help_text='Hugging Face id, local folder, or "smollm2" (the shipped demo backbone); '
        "empty: the GENERATOR_MODEL setting",
    )
    samples_per_problem = JsonIntegerField(
        required=False, min_value=1, max_value=MAX_SAMPLES_PER_PROBLEM
    )
    temperature = JsonNumberField(
        required=False, min_value=0, max_value=10, help_text="0: greedy decoding"
    )
    top_p = JsonNumberField(required=False, min_value=0, max_value=1)
    max_new_tokens = JsonIntegerField(required=False, min_value=1, max_value=MAX_NEW_TOKENS)
    seed = JsonIntegerField(required=False, min_value=0, max_value=INT32[1])
    batch_size = JsonIntegerField(required=False, min_value=1, max_value=4096)
    prompt_template = JsonStringField(
        required=False,
        max_length=20_000,
        trim_whitespace=False,
        validators=[text_policy],
        help_text="str.format text with {problem}; literal braces doubled",
    )
    step_separator = JsonStringField(
        required=False, max_length=100, trim_whitespace=False, validators=[text_policy]
    )
    stop = serializers.ListField(
        child=JsonStringField(max_length=200, trim_whitespace=False),
        required=False,
        max_length=20,
    )
    only_needed = JsonBooleanField(
        required=False,
        help_text="only problems with fewer than samples_per_problem unlabeled candidates",
    )
    use_chat_template = JsonBooleanField(required=False)
    device = JsonStringField(required=False, allow_blank=True, max_length=20)


class GenerateSerializer(GeneratorOptionsSerializer):
    """A generator run: the options, and optionally which problems (default: the project's)."""

    problem_ids = serializers.ListField(
        child=JsonIntegerField(min_value=1, max_value=INT32[1]),
        required=False,
        max_length=100_000,
    )


def _run_bounds(name: str) -> dict:
    """min_value / max_value of a run parameter stored in LoopSettings.name: its column's range
    narrowed by the rule table's bounds."""
    return {**column_bounds(LoopSettings, name), **field_bounds(name)}


class RunTriggerSerializer(KnownFieldsSerializer):
    """Optional overrides of the project's loop settings for this run only; an unknown field
    is a 400 naming it, and no run is made."""

    batch_size = JsonIntegerField(required=False, **_run_bounds("batch_size"))
    per_problem_cap = JsonIntegerField(required=False, **_run_bounds("per_problem_cap"))
    wrong_share = JsonNumberField(required=False, **field_bounds("wrong_share"))
    wrong_allocation = serializers.ChoiceField(choices=WrongAllocation.choices, required=False)
    truncated_policy = serializers.ChoiceField(choices=TruncatedPolicy.choices, required=False)
    strategy = serializers.ChoiceField(choices=Strategy.choices, required=False)
    seed = JsonIntegerField(required=False, **column_bounds(LoopSettings, "seed"))
    training_mode = serializers.ChoiceField(choices=TrainingMode.choices, required=False)
    epochs = JsonIntegerField(required=False, **_run_bounds("epochs"))
    backbone = JsonStringField(
        required=False, allow_blank=True, max_length=500, validators=[text_policy]
    )
    keep_layers = JsonIntegerField(
        required=False,
        allow_null=True,
        **_run_bounds("keep_layers"),
    )
    score_chunk_size = JsonIntegerField(required=False, **_run_bounds("score_chunk_size"))
    train = TrainOverridesSerializer(required=False)
    generate = GeneratorOptionsSerializer(
        required=False,
        help_text="Start the run with a generate stage: sample new candidates with these "
        "options for the problems that need them, then train, score and select.",
    )


class LoopSettingsSerializer(KnownFieldsSerializer, ColumnBoundsModelSerializer):
    class Meta:
        model = LoopSettings
        fields = ["project", *LOOP_SETTINGS_FIELDS, "updated_at"]
        read_only_fields = ["project", "updated_at"]
        # the inclusive bounds shown in the schema and enforced per field; every rule, the
        # exclusive and cross-field ones included, is checked by validate() from the table
        extra_kwargs = {
            name: field_bounds(LOOP_FIELD_RULES[name])
            for name in fields
            if name in LOOP_FIELD_RULES and field_bounds(LOOP_FIELD_RULES[name])
        }

    def validate(self, attrs):
        """The loop's rules (loop.settings_rules), on the fields sent merged over the stored
        row; a 400 names each field that breaks one."""
        current = self.instance
        stored = {name: getattr(current, name) for name in LOOP_FIELD_RULES} if current else {}
        problems = check_loop_settings({**stored, **attrs})
        if problems:
            # a rule broken by the stored row alone is shown on the field, not hidden
            raise serializers.ValidationError(problems)
        return attrs


class GradeSerializer(KnownFieldsSerializer):
    regrade = JsonBooleanField(default=False)


class QueuedSerializer(serializers.Serializer):
    queued = serializers.BooleanField()
    detail = serializers.CharField()
