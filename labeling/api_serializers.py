"""Output serializers of the annotator and lead API (labeling/api.py): the shapes its views
answer, declared once so the OpenAPI document (/api/schema/) comes from the code (each view's
`extend_schema` names them). The views build these answers from services and selectors (plain
dicts); the statistics are defined in docs/statistics.md (labeling/project_stats.py)."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from labeling.models import FinishReason, LabelingStatus

KINDS = ["task", "screening"]  # a quality-control question is a "task" to its annotator
ERROR = OpenApiResponse(description="Bad input or a state that does not allow this.")
# the annotator API's write endpoints (labeling/known_fields.py), appended to their descriptions
UNKNOWN_REFUSED = (
    ' A field the request does not define, at the top level (`{"ratng": ["Unknown field."]}`)'
    " or inside a step (`steps[2].ratin: unknown field`), is a 400 naming it, and nothing changes."
)


# An answer's shape: every field read-only (these serializers never validate input, and the
# schema marks them readOnly). A comment, not a docstring: the schema would show it on each.
class Output(serializers.Serializer):
    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            field.read_only = True
        return fields


# -- the assignment an annotator works on -----------------------------------------------------


class AssignmentNextSerializer(Output):
    id = serializers.IntegerField()
    solution = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=KINDS)


class DraftSavedSerializer(Output):
    saved = serializers.BooleanField()
    total_time_ms = serializers.IntegerField(allow_null=True)
    revision = serializers.IntegerField(
        help_text="the draft's revision now: send it with the next save"
    )


class SubmittedSerializer(Output):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=LabelingStatus.choices)
    finish_reason = serializers.ChoiceField(choices=FinishReason.choices, allow_null=True)
    total_time_ms = serializers.IntegerField(allow_null=True)


class GoldMarkedSerializer(Output):
    solution = serializers.IntegerField()
    labeling = serializers.IntegerField()


class DraftStepSerializer(Output):
    rating = serializers.ChoiceField(
        choices=[-1, 0, 1], allow_null=True, help_text="-1 Negative, 0 Neutral, 1 Positive"
    )
    flagged = serializers.BooleanField(help_text="marked unsure")


class AssignmentProblemSerializer(Output):
    text = serializers.CharField()
    reference_answer = serializers.CharField(
        allow_null=True, help_text="shown to annotators, as in PRM800K"
    )


class AssignmentDraftSerializer(Output):
    steps = DraftStepSerializer(many=True)
    total_time_ms = serializers.IntegerField()
    revision = serializers.IntegerField(help_text="send it with the next draft save or submit")
    finish_reason = serializers.ChoiceField(choices=FinishReason.choices, allow_null=True)
    reason = serializers.CharField(allow_blank=True)


class AssignmentSerializer(Output):
    id = serializers.IntegerField(help_text="the assignment id used in the URLs below")
    kind = serializers.ChoiceField(choices=KINDS)
    status = serializers.ChoiceField(choices=LabelingStatus.choices)
    project = serializers.IntegerField()
    generation = serializers.IntegerField(
        allow_null=True, help_text="the generation's number; -1 is the screening set"
    )
    problem = AssignmentProblemSerializer()
    steps = serializers.ListField(
        child=serializers.CharField(), help_text="the solution's steps, in order"
    )
    draft = AssignmentDraftSerializer()


# -- a project's statistics (labeling/project_stats.py; docs/statistics.md) --------------------


def _share(help_text: str = ""):
    return serializers.FloatField(allow_null=True, help_text=help_text)


class PairwiseKappaSerializer(Output):
    labeler_a = serializers.UUIDField()
    labeler_b = serializers.UUIDField()
    kappa = _share("Cohen's kappa; null when undefined")
    n = serializers.IntegerField(help_text="steps both rated")


class AgreementPointSerializer(Output):
    start = serializers.DateField()
    date = serializers.DateField(help_text="the period's last day")
    labelings = serializers.IntegerField()
    units = serializers.IntegerField()
    percent_agreement = _share()
    krippendorff_alpha_ordinal = _share()


class QualityControlRowSerializer(Output):
    labeler = serializers.UUIDField()
    username = serializers.CharField()
    questions = serializers.IntegerField(help_text="gold questions answered")
    step_agreement = _share("mean step agreement with gold")
    first_error_match = _share("share with the gold's first Negative step")
    screening = serializers.CharField()
    screening_score = _share()
    paused = serializers.BooleanField()


# keyed by rating ("-1", "0", "1"), which are no Python names: built with type()
RatingCountsSerializer = type(
    "RatingCountsSerializer",
    (Output,),
    {key: serializers.IntegerField() for key in ("-1", "0", "1")},
)
RatingSharesSerializer = type(
    "RatingSharesSerializer", (Output,), {key: _share() for key in ("-1", "0", "1")}
)


class LabelerThroughputSerializer(Output):
    labeler = serializers.UUIDField()
    username = serializers.CharField()
    labelings = serializers.IntegerField()
    steps = serializers.IntegerField()
    labelings_per_hour = _share()
    steps_per_hour = _share()
    seconds_per_step_median = _share()
    seconds_per_step_p90 = _share()
    ratings = RatingCountsSerializer()
    rating_shares = RatingSharesSerializer()


class StatisticsFilterSerializer(Output):
    generation = serializers.IntegerField(allow_null=True)
    since = serializers.DateTimeField(allow_null=True)
    until = serializers.DateTimeField(allow_null=True)


class DailyLabelingsSerializer(Output):
    date = serializers.DateField()
    labelings = serializers.IntegerField()


class ThroughputSerializer(Output):
    labelings = serializers.IntegerField()
    steps = serializers.IntegerField()
    labelings_per_hour = _share()
    steps_per_hour = _share()
    seconds_per_step_median = _share()
    seconds_per_step_p90 = _share()
    per_labeler = LabelerThroughputSerializer(many=True)
    daily = DailyLabelingsSerializer(many=True)


FinishReasonCountsSerializer = type(
    "FinishReasonCountsSerializer",
    (Output,),
    {
        reason: serializers.IntegerField(required=False, help_text=label)
        for reason, label in FinishReason.choices
    },
)


class WrittenReasonSerializer(Output):
    finish_reason = serializers.ChoiceField(choices=FinishReason.choices)
    reason = serializers.CharField()
    labeler = serializers.UUIDField()
    labeling = serializers.IntegerField()


class EstimateSerializer(Output):
    n = serializers.IntegerField(help_text="observations")
    value = serializers.FloatField(allow_null=True, help_text="a share or a mean")
    low = serializers.FloatField(allow_null=True, help_text="95% interval, lower end")
    high = serializers.FloatField(allow_null=True, help_text="95% interval, upper end")
    interval = serializers.ChoiceField(choices=["wilson", "t"])


class HintArmSerializer(Output):
    labelings = serializers.IntegerField()
    gold_first_error_match = EstimateSerializer()
    gold_step_agreement = EstimateSerializer()
    prm_first_error_match = EstimateSerializer()
    seconds_per_step = EstimateSerializer()
    first_error_position = EstimateSerializer()


class HintBiasSerializer(Output):
    hinted = HintArmSerializer()
    unhinted = HintArmSerializer()


class ProjectStatisticsSerializer(Output):
    project = serializers.IntegerField()
    filter = StatisticsFilterSerializer()
    units = serializers.IntegerField(help_text="(solution, step) units with a rating")
    ratings = serializers.IntegerField()
    krippendorff_alpha_ordinal = _share()
    krippendorff_alpha_nominal = _share()
    percent_agreement = _share()
    fleiss_kappa = _share()
    first_error_agreement = _share()
    pairwise_cohen_kappa = PairwiseKappaSerializer(many=True)
    agreement_over_time = AgreementPointSerializer(many=True)
    qc = QualityControlRowSerializer(many=True)
    throughput = ThroughputSerializer()
    finish_reasons = FinishReasonCountsSerializer(
        help_text="submitted labelings per finish reason (absent: none)"
    )
    reasons = WrittenReasonSerializer(many=True)
    hints = HintBiasSerializer(
        help_text="PRM hints: hinted against unhinted labelings (docs/model-assisted.md)"
    )
    computed_at = serializers.FloatField(help_text="Unix time the data was read")
    compute_seconds = serializers.FloatField()
    stale = serializers.BooleanField(
        required=False, help_text="present and true while a newer result is on its way"
    )


# -- the disagreement queue (docs/model-assisted.md) -----------------------------------------


class DisagreementOutcomeSerializer(Output):
    status = serializers.ChoiceField(
        choices=["pending", "majority", "no_majority", "adjudicated", "not_served"],
        help_text="not_served: no longer served (an older generation, or its queue item "
        "closed) and never relabeled; pending: still waiting for its one more labeling",
    )
    majority_first_error = serializers.IntegerField(allow_null=True)
    adjudicated_first_error = serializers.IntegerField(
        allow_null=True, help_text="a lead's ruling (-1: no error), which decides the outcome"
    )
    agrees_with_model = serializers.BooleanField(allow_null=True)


class DisagreementDetailSerializer(Output):
    human_first_errors = serializers.ListField(child=serializers.IntegerField())
    prm_first_error = serializers.IntegerField(required=False, help_text="-1: none")
    prm_max_error_probability = serializers.FloatField(required=False)


class DisagreementItemSerializer(Output):
    id = serializers.IntegerField()
    solution = serializers.IntegerField()
    generation = serializers.IntegerField(help_text="the generation it was queued in")
    model_version = serializers.IntegerField(allow_null=True)
    reason = serializers.ChoiceField(
        choices=["prm_confident_error", "first_error_far", "annotators_disagree"]
    )
    reason_text = serializers.CharField()
    strength = serializers.FloatField()
    detail = DisagreementDetailSerializer(help_text="what the rule saw when it queued it")
    first_errors = serializers.ListField(
        child=serializers.IntegerField(), help_text="every labeling's first error now (-1: none)"
    )
    outcome = DisagreementOutcomeSerializer()


class DisagreementQueueSerializer(Output):
    project = serializers.IntegerField()
    items = DisagreementItemSerializer(many=True)


# -- adjudication (docs/model-assisted.md) ---------------------------------------------------


class SideBySideSolutionSerializer(Output):
    id = serializers.IntegerField()
    problem = serializers.CharField()
    steps = serializers.ListField(child=serializers.CharField())


class SideBySideLabelingSerializer(Output):
    id = serializers.IntegerField()
    labeler = serializers.CharField()
    finish_reason = serializers.CharField(allow_null=True)
    total_time_ms = serializers.IntegerField(allow_null=True)
    first_error = serializers.IntegerField(help_text="0-based; -1: none")
    is_quality_control = serializers.BooleanField()
    hint_arm = serializers.CharField(help_text="hinted, unhinted or empty")


class SideBySideMarkSerializer(Output):
    rating = serializers.IntegerField(allow_null=True)
    flagged = serializers.BooleanField()


class SideBySideRowSerializer(Output):
    step = serializers.IntegerField()
    text = serializers.CharField()
    marks = SideBySideMarkSerializer(
        many=True, allow_null=True, help_text="per labeling, in order; null: not reached"
    )


class AdjudicationSerializer(Output):
    first_error = serializers.IntegerField(help_text="0-based; -1: none")
    adjudicated_by = serializers.CharField(allow_null=True)
    note = serializers.CharField()
    updated_at = serializers.DateTimeField()


class SideBySideSerializer(Output):
    solution = SideBySideSolutionSerializer()
    labelings = SideBySideLabelingSerializer(many=True)
    rows = SideBySideRowSerializer(many=True)
    adjudication = AdjudicationSerializer(allow_null=True)
