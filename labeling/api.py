"""REST API of the labeling app (DRF): one view class per operation; each parses input, calls
one service or selector, and renders."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import selectors
from labeling.api_fast import Fallback, HotPathApi, json_response, valid_int
from labeling.api_serializers import (
    ERROR,
    UNKNOWN_REFUSED,
    AssignmentNextSerializer,
    AssignmentSerializer,
    DraftSavedSerializer,
    GoldMarkedSerializer,
    ProjectStatisticsSerializer,
    SubmittedSerializer,
)
from labeling.errors import NotFound
from labeling.input_rules import (
    ID,
    INT32,
    JsonBooleanField,
    JsonIntegerField,
    JsonNumberField,
    JsonStringField,
    KnownFieldsSerializer,
    column_bounds,
    text_policy,
)
from labeling.models import FinishReason, Labeling, Project
from labeling.permissions import IsLead, IsLeadOrResearcher, lead_project, research_project
from labeling.project_stats import StatsFilter, project_statistics
from labeling.services import assignments, drafts, hints, submission
from labeling.services.projects import EDITABLE, MAX_PHASE1_ALTERNATIVES, project_update
from labeling.services.quality import gold_mark


class AssignmentNextApi(HotPathApi):
    @extend_schema_serializer(component_name="AssignmentNext")
    class InputSerializer(KnownFieldsSerializer):
        project = JsonIntegerField(required=False, min_value=ID[0], max_value=ID[1])
        exclude = serializers.ListField(
            child=JsonIntegerField(min_value=ID[0], max_value=ID[1]),
            required=False,
            max_length=20,
        )

    @extend_schema(
        summary="Take the next task",
        description="The caller's next task in the project (default: their first "
        "project): their own unfinished task first, then screening questions, gold "
        "questions at the project's QC rate, then the best open solution. 204 with an "
        "`X-No-Task-Reason` header (`nothing_left`, `screening_failed`, `paused`) when "
        "there is none." + UNKNOWN_REFUSED,
        request=InputSerializer,
        responses={
            200: AssignmentNextSerializer,
            204: OpenApiResponse(description="Nothing to do (X-No-Task-Reason says why)."),
            400: ERROR,
        },
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = self._next(
            request.user, data.validated_data.get("project"), data.validated_data.get("exclude")
        )
        if result is None:
            return Response(status=status.HTTP_204_NO_CONTENT, headers=self._no_task)
        return Response(result)

    def fast(self, request, user, data):
        project = valid_int(data, "project", *ID)
        exclude = data.get("exclude")
        if exclude is not None:
            if type(exclude) is not list or len(exclude) > 20:
                raise Fallback
            for value in exclude:
                if type(value) is not int or not ID[0] <= value <= ID[1]:
                    raise Fallback
        elif "exclude" in data:
            raise Fallback
        result = self._next(user, project, exclude)
        if result is None:
            response = json_response(self, None, status.HTTP_204_NO_CONTENT)
            for name, value in self._no_task.items():
                response[name] = value
            return response
        return json_response(self, result)

    def _next(self, user, project_id, exclude):
        """The next task's answer body, or None (then self._no_task holds the 204's header)."""
        # the service reads the project with the membership it locks (404 when not a member)
        result = assignments.assignment_next(
            user=user, project_id=project_id, exclude=tuple(exclude or ())
        )
        labeling = result.labeling
        if labeling is None:
            # 204 has no body; the reason (nothing_left, screening_failed, paused) is a header.
            self._no_task = {"X-No-Task-Reason": result.reason}
            return None
        return {
            "id": labeling.pk,
            "solution": labeling.solution_id,
            "kind": selectors.assignment_kind(labeling),
        }


class AssignmentDetailApi(HotPathApi):
    fast_method = "GET"

    @extend_schema(
        summary="Read a task",
        description="The problem, its reference answer, the steps and the caller's own "
        "saved draft. Someone else's assignment is a 404.",
        responses={200: AssignmentSerializer},
    )
    def get(self, request, assignment_id: int):
        return Response(self._open(request.user, assignment_id))

    def fast(self, request, user, data, assignment_id: int):
        return json_response(self, self._open(user, assignment_id))

    @staticmethod
    def _open(user, assignment_id: int) -> dict:
        labeling = selectors.assignment_to_open(user, assignment_id)
        labeling = assignments.assignment_open(labeling=labeling)
        labeling = hints.assignment_hint_record(labeling=labeling)
        return selectors.assignment_view(labeling)


def _valid_input(serializer, user, assignment_id: int):
    """The validated input; for invalid input, someone else's assignment is still a 404 first
    (the ownership check is otherwise part of the service's own statement)."""
    if not serializer.is_valid():
        selectors.assignment_for_user(user, assignment_id)
        raise ValidationError(serializer.errors)
    return serializer.validated_data


class AssignmentDraftApi(HotPathApi):
    fast_method = "PUT"

    # `revision` is the draft revision the marks were based on (from the detail's
    # draft.revision or the last save's answer); a stale one is a 409 with the stored draft.
    @extend_schema_serializer(component_name="Draft")
    class InputSerializer(KnownFieldsSerializer):
        steps = serializers.JSONField(required=False)
        total_time_ms = JsonIntegerField(
            required=False, min_value=0, max_value=drafts.MAX_TOTAL_TIME_MS
        )
        revision = JsonIntegerField(required=False, min_value=0, max_value=INT32[1])

        def validate(self, attrs):
            if "steps" not in attrs and "total_time_ms" not in attrs:
                raise ValidationError({"steps": "steps or total_time_ms is required"})
            return attrs

    @extend_schema(
        summary="Save the ratings so far",
        description="Replaces the draft: one `{rating, flagged}` per rated step, in "
        "order, nothing rated after a Negative. Renews the lease. Send the `revision` "
        "the steps were based on: when the draft was changed since (another tab), "
        "the answer is 409 with `code: stale_draft` and the stored `revision` and "
        "`steps`, and nothing is written. Without `steps` only the time and the lease "
        "are saved. 409 once submitted." + UNKNOWN_REFUSED,
        request=InputSerializer,
        responses={200: DraftSavedSerializer, 400: ERROR},
    )
    def put(self, request, assignment_id: int):
        data = _valid_input(self.InputSerializer(data=request.data), request.user, assignment_id)
        return Response(self._save(request.user, assignment_id, data))

    def fast(self, request, user, data, assignment_id: int):
        if "steps" in data and data["steps"] is None:
            raise Fallback  # JSONField: "may not be null"
        total_time_ms = valid_int(data, "total_time_ms", 0, drafts.MAX_TOTAL_TIME_MS)
        revision = valid_int(data, "revision", 0, INT32[1])
        if "steps" not in data and total_time_ms is None:
            raise Fallback  # "steps or total_time_ms is required"
        valid = {"steps": data.get("steps"), "total_time_ms": total_time_ms, "revision": revision}
        return json_response(self, self._save(user, assignment_id, valid))

    @staticmethod
    def _save(user, assignment_id: int, data) -> dict:
        saved = drafts.assignment_draft_save(
            user_id=user.pk,
            assignment_id=assignment_id,
            steps=data.get("steps"),
            total_time_ms=data.get("total_time_ms"),
            revision=data.get("revision"),
        )
        return {"saved": True, "total_time_ms": saved.total_time_ms, "revision": saved.revision}


class AssignmentSubmitApi(HotPathApi):
    @extend_schema_serializer(component_name="Submit")
    class InputSerializer(KnownFieldsSerializer):
        finish_reason = serializers.ChoiceField(choices=FinishReason.choices)
        reason = JsonStringField(
            required=False, allow_blank=True, max_length=2000, validators=[text_policy]
        )
        total_time_ms = JsonIntegerField(
            required=False, min_value=0, max_value=drafts.MAX_TOTAL_TIME_MS
        )
        revision = JsonIntegerField(required=False, min_value=0, max_value=INT32[1])

    @extend_schema(
        summary="Finish a task",
        description="Ends the task with a finish reason that fits the ratings "
        "(`found_error` after a Negative, `solution` when every step is rated, "
        "`give_up` or `bad_problem` with a `reason` anywhere). Sending the same submit "
        "again changes nothing; a different one is 409, as is a `revision` older "
        "than the draft's (`code: stale_draft`)." + UNKNOWN_REFUSED,
        request=InputSerializer,
        responses={200: SubmittedSerializer, 400: ERROR},
    )
    def post(self, request, assignment_id: int):
        data = _valid_input(self.InputSerializer(data=request.data), request.user, assignment_id)
        return Response(self._submit(request.user, assignment_id, data))

    _reason_field = None

    def fast(self, request, user, data, assignment_id: int):
        finish_reason = data.get("finish_reason")
        if type(finish_reason) is not str or finish_reason not in FinishReason.values:
            raise Fallback
        reason = ""
        if "reason" in data:
            cls = type(self)
            if cls._reason_field is None:  # the serializer's own field, bound once
                cls._reason_field = self.InputSerializer().fields["reason"]
            try:
                reason = cls._reason_field.run_validation(data["reason"])
            except ValidationError:
                raise Fallback from None
        valid = {
            "finish_reason": finish_reason,
            "reason": reason,
            "total_time_ms": valid_int(data, "total_time_ms", 0, drafts.MAX_TOTAL_TIME_MS),
            "revision": valid_int(data, "revision", 0, INT32[1]),
        }
        return json_response(self, self._submit(user, assignment_id, valid))

    @staticmethod
    def _submit(user, assignment_id: int, data) -> dict:
        labeling = submission.assignment_submit(
            user_id=user.pk,
            assignment_id=assignment_id,
            finish_reason=data["finish_reason"],
            reason=data.get("reason", ""),
            total_time_ms=data.get("total_time_ms"),
            revision=data.get("revision"),
        )
        return {
            "id": labeling.pk,
            "status": labeling.status,
            "finish_reason": labeling.finish_reason,
            "total_time_ms": labeling.total_time_ms,
        }


class ProjectListApi(APIView):
    @extend_schema_serializer(component_name="Project")
    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = Project
            fields = ["id", "name", *EDITABLE]

    @extend_schema(
        operation_id="projects_list",
        summary="List projects",
        description="Leads see every project; others the projects they are members of.",
        responses=OutputSerializer(many=True),
    )
    def get(self, request):
        projects = selectors.projects_for_user(request.user)
        return Response(self.OutputSerializer(projects, many=True).data)


class ProjectDetailApi(APIView):
    @extend_schema_serializer(component_name="ProjectSettings")
    class InputSerializer(KnownFieldsSerializer):
        """A project's editable settings; any other field is a 400 naming it, except the
        project's id and name, which a client may send back from GET (ignored)."""

        read_back_fields = ("id", "name")

        overlap = JsonIntegerField(min_value=1, max_value=100, required=False)
        lease_minutes = JsonIntegerField(min_value=1, max_value=24 * 60, required=False)
        qc_rate = JsonNumberField(min_value=0, max_value=1, required=False)
        screening_pass_mark = JsonNumberField(min_value=0, max_value=1, required=False)
        qc_pause_threshold = JsonNumberField(
            min_value=0, max_value=1, required=False, allow_null=True
        )
        qc_pause_min_questions = JsonIntegerField(
            required=False, **{**column_bounds(Project, "qc_pause_min_questions"), "min_value": 1}
        )
        phase1_mode = JsonBooleanField(required=False)
        phase1_alternatives = JsonIntegerField(
            required=False, min_value=1, max_value=MAX_PHASE1_ALTERNATIVES
        )
        # model-assisted labeling (docs/model-assisted.md)
        hints_enabled = JsonBooleanField(required=False)
        hints_unhinted_share = JsonNumberField(min_value=0, max_value=1, required=False)
        disagreement_budget = JsonIntegerField(min_value=0, max_value=10_000, required=False)
        disagreement_k = JsonIntegerField(min_value=0, max_value=10_000, required=False)
        disagreement_confidence = JsonNumberField(min_value=0.000001, max_value=1, required=False)

    def get_permissions(self):
        if self.request.method == "GET":
            return [permissions.IsAuthenticated()]
        return [IsLead()]

    @extend_schema(summary="Read a project", responses=ProjectListApi.OutputSerializer)
    def get(self, request, project_id: int):
        project = selectors.projects_for_user(request.user).filter(pk=project_id).first()
        if project is None:
            raise NotFound("No such project.")
        return Response(ProjectListApi.OutputSerializer(project).data)

    @extend_schema(
        summary="Change a project's settings (leads)",
        description="Overlap, lease length, QC rate, screening pass mark, the QC "
        "pause rule, phase-1 mode (with the alternatives asked per step) and the PRM "
        "hints (on or off, and the share of tasks served without them); a new "
        "overlap reopens or closes queue items at once.",
        request=InputSerializer,
        responses={200: ProjectListApi.OutputSerializer, 400: ERROR},
    )
    def patch(self, request, project_id: int):
        project = lead_project(request.user, project_id)
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        project = project_update(project=project, **data.validated_data)
        return Response(ProjectListApi.OutputSerializer(project).data)


class LabelingGoldApi(APIView):
    permission_classes = [IsLead]

    @extend_schema(
        summary="Make a labeling the gold (leads)",
        description="A submitted labeling becomes its solution's gold label, replacing "
        "any earlier one; quality-control and screening answers are scored against it.",
        request=None,
        responses={200: GoldMarkedSerializer, 400: ERROR},
    )
    def post(self, request, labeling_id: int):
        labeling = Labeling.objects.filter(pk=labeling_id).first()
        if labeling is None:
            raise NotFound("No such labeling.")
        gold = gold_mark(labeling=labeling, by=request.user)
        return Response({"solution": gold.solution_id, "labeling": gold.labeling_id})


class ProjectStatsApi(APIView):
    permission_classes = [IsLeadOrResearcher]

    class FilterSerializer(serializers.Serializer):
        generation = serializers.IntegerField(required=False, min_value=-1, max_value=INT32[1])
        since = serializers.DateTimeField(required=False)
        until = serializers.DateTimeField(required=False)

        def validate(self, attrs):
            if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
                raise serializers.ValidationError({"until": "must be after since"})
            return attrs

    @extend_schema(
        summary="A project's agreement, quality and throughput",
        description="The numbers of the lead's statistics page, defined in "
        "docs/statistics.md; at most a minute behind the latest submit (`stale` is "
        "true while a fresher result is computed).",
        parameters=[
            OpenApiParameter("generation", int, description="generation number"),
            OpenApiParameter("since", OpenApiTypes.DATETIME),
            OpenApiParameter("until", OpenApiTypes.DATETIME),
        ],
        responses={200: ProjectStatisticsSerializer, 400: ERROR},
    )
    def get(self, request, project_id: int):
        project = research_project(request.user, project_id)
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        stats = project_statistics(project, StatsFilter(**params.validated_data))
        return Response(stats)
