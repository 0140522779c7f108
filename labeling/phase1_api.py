"""REST API of phase-1 labeling (docs/phase1.md): the phase-1 task's state and its draft save.
Submit is the ordinary `POST /api/assignments/<id>/submit/`."""

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import selectors
from labeling.api import _valid_input
from labeling.api_serializers import ERROR, UNKNOWN_REFUSED, Output
from labeling.errors import NotFound
from labeling.input_rules import INT32, JsonIntegerField, KnownFieldsSerializer
from labeling.services import drafts, phase1


class OpenPositionSerializer(Output):
    position = serializers.IntegerField(help_text="0-based step position")
    status = serializers.ChoiceField(choices=["ready", "pending", "failed", "done"])
    alternatives = serializers.ListField(child=serializers.CharField())
    source = serializers.CharField(help_text="where the alternatives came from")
    error = serializers.CharField(required=False)


class Phase1SavedSerializer(Output):
    saved = serializers.BooleanField()
    total_time_ms = serializers.IntegerField(allow_null=True)
    revision = serializers.IntegerField()
    open = OpenPositionSerializer()


class CompletionSerializer(Output):
    text = serializers.CharField()
    rating = serializers.IntegerField(allow_null=True)
    flagged = serializers.BooleanField(allow_null=True)


class HumanCompletionSerializer(Output):
    text = serializers.CharField()
    rating = serializers.IntegerField(allow_null=True)
    source = serializers.CharField()
    flagged = serializers.BooleanField(allow_null=True)


class LabelStepSerializer(Output):
    completions = CompletionSerializer(many=True)
    human_completion = HumanCompletionSerializer(allow_null=True)
    chosen_completion = serializers.IntegerField(allow_null=True)


class PositionSerializer(Output):
    ratings = serializers.ListField(child=serializers.IntegerField(allow_null=True))
    flagged = serializers.ListField(child=serializers.BooleanField())
    chosen = serializers.IntegerField(allow_null=True)
    human = serializers.CharField(allow_null=True)
    shown = serializers.IntegerField(help_text="how many proposals the page showed")


class Phase1DraftSerializer(Output):
    steps = LabelStepSerializer(many=True, help_text="the stored PRM800K label steps")
    positions = PositionSerializer(many=True, help_text="the same in the form a save sends")
    total_time_ms = serializers.IntegerField()
    revision = serializers.IntegerField()
    finish_reason = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)


class Phase1ProblemSerializer(Output):
    text = serializers.CharField()
    reference_answer = serializers.CharField(allow_null=True)


class Phase1StateSerializer(Output):
    id = serializers.IntegerField()
    mode = serializers.ChoiceField(choices=["phase1"])
    status = serializers.CharField()
    project = serializers.IntegerField()
    problem = Phase1ProblemSerializer()
    draft = Phase1DraftSerializer()
    open = OpenPositionSerializer()


class Phase1TaskApi(APIView):
    @extend_schema_serializer(component_name="Phase1Draft")
    class InputSerializer(KnownFieldsSerializer):
        steps = serializers.JSONField(
            required=False,
            help_text='one per step position: {"ratings": [-1|0|1|null], "flagged": [bool], '
            '"chosen": int|null, "human": str|null, "shown": int}',
        )
        total_time_ms = JsonIntegerField(
            required=False, min_value=0, max_value=drafts.MAX_TOTAL_TIME_MS
        )
        revision = JsonIntegerField(required=False, min_value=0, max_value=INT32[1])

        def validate(self, attrs):
            if "steps" not in attrs and "total_time_ms" not in attrs:
                raise serializers.ValidationError({"steps": "steps or total_time_ms is required"})
            return attrs

    @extend_schema(
        summary="Read a phase-1 task",
        description="The problem, the caller's own draft and the open position: the "
        "alternatives to rate next (`status` pending while the generator has not proposed "
        "them yet; poll again).",
        responses={200: Phase1StateSerializer},
    )
    def get(self, request, assignment_id: int):
        labeling = selectors.assignment_for_user(request.user, assignment_id)
        if not phase1.is_phase1_task(labeling):
            raise NotFound("Not a phase-1 task.")
        return Response(phase1.phase1_task_state(labeling))

    @extend_schema(
        summary="Save a phase-1 draft",
        description="Replaces the draft's positions (rate every alternative, then continue "
        "with one rated Neutral or Positive or with your own step). Send the `revision` the "
        "positions were based on: 409 `stale_draft` with the stored `revision` and `steps` "
        "when another tab saved since. Answers the next open position." + UNKNOWN_REFUSED,
        request=InputSerializer,
        responses={200: Phase1SavedSerializer, 400: ERROR},
    )
    def put(self, request, assignment_id: int):
        data = _valid_input(self.InputSerializer(data=request.data), request.user, assignment_id)
        saved = phase1.phase1_draft_save(
            user_id=request.user.pk,
            assignment_id=assignment_id,
            steps=data.get("steps"),
            total_time_ms=data.get("total_time_ms"),
            revision=data.get("revision"),
        )
        return Response(
            {
                "saved": True,
                "total_time_ms": saved.total_time_ms,
                "revision": saved.revision,
                "open": saved.open,
            }
        )
