"""REST API of the labeling app (DRF): one view class per operation; each parses input, calls
one service or selector, and renders."""

from rest_framework import permissions, serializers, status
from rest_framework.exceptions import NotFound as DRFNotFound
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import selectors
from labeling.errors import ApplicationError, Conflict, NotFound
from labeling.models import FinishReason, Labeling, Project
from labeling.project_stats import StatsFilter, project_statistics
from labeling.services import assignments, submission
from labeling.services.projects import EDITABLE, project_update
from labeling.services.quality import gold_mark


class ServiceErrorsMixin:
    """ApplicationError from a service becomes 404, 409 or 400 with its message."""

    def handle_exception(self, exc):
        if isinstance(exc, NotFound):
            exc = DRFNotFound(exc.message)
        elif isinstance(exc, Conflict):
            return Response({"detail": exc.message}, status=status.HTTP_409_CONFLICT)
        elif isinstance(exc, ApplicationError):
            exc = ValidationError({"detail": exc.message})
        return super().handle_exception(exc)


class AssignmentNextApi(ServiceErrorsMixin, APIView):
    class InputSerializer(serializers.Serializer):
        project = serializers.IntegerField(required=False)
        exclude = serializers.ListField(
            child=serializers.IntegerField(), required=False, max_length=20
        )

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # the service reads the project with the membership it locks (404 when not a member)
        result = assignments.assignment_next(
            user=request.user,
            project_id=data.validated_data.get("project"),
            exclude=tuple(data.validated_data.get("exclude", ())),
        )
        labeling = result.labeling
        if labeling is None:
            # 204 has no body; the reason (nothing_left, screening_failed, paused) is a header.
            return Response(
                status=status.HTTP_204_NO_CONTENT, headers={"X-No-Task-Reason": result.reason}
            )
        return Response(
            {
                "id": labeling.pk,
                "solution": labeling.solution_id,
                "kind": selectors.assignment_kind(labeling),
            }
        )


class AssignmentDetailApi(ServiceErrorsMixin, APIView):
    def get(self, request, assignment_id: int):
        labeling = selectors.assignment_for_user(request.user, assignment_id)
        labeling = assignments.assignment_open(labeling=labeling)
        return Response(selectors.assignment_view(labeling))


def _valid_input(serializer, user, assignment_id: int):
    """The validated input; for invalid input, someone else's assignment is still a 404 first
    (the ownership check is otherwise part of the service's own statement)."""
    if not serializer.is_valid():
        selectors.assignment_for_user(user, assignment_id)
        raise ValidationError(serializer.errors)
    return serializer.validated_data


class AssignmentDraftApi(ServiceErrorsMixin, APIView):
    class InputSerializer(serializers.Serializer):
        steps = serializers.JSONField()
        total_time_ms = serializers.IntegerField(required=False, min_value=0)

    def put(self, request, assignment_id: int):
        data = _valid_input(self.InputSerializer(data=request.data), request.user, assignment_id)
        saved = submission.assignment_draft_save(
            user_id=request.user.pk,
            assignment_id=assignment_id,
            steps=data["steps"],
            total_time_ms=data.get("total_time_ms"),
        )
        return Response({"saved": True, "total_time_ms": saved.total_time_ms})


class AssignmentSubmitApi(ServiceErrorsMixin, APIView):
    class InputSerializer(serializers.Serializer):
        finish_reason = serializers.ChoiceField(choices=FinishReason.values)
        reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)
        total_time_ms = serializers.IntegerField(required=False, min_value=0)

    def post(self, request, assignment_id: int):
        data = _valid_input(self.InputSerializer(data=request.data), request.user, assignment_id)
        labeling = submission.assignment_submit(
            user_id=request.user.pk,
            assignment_id=assignment_id,
            finish_reason=data["finish_reason"],
            reason=data.get("reason", ""),
            total_time_ms=data.get("total_time_ms"),
        )
        return Response(
            {
                "id": labeling.pk,
                "status": labeling.status,
                "finish_reason": labeling.finish_reason,
                "total_time_ms": labeling.total_time_ms,
            }
        )


class IsLead(permissions.BasePermission):
    message = "Only project leads may do this."

    def has_permission(self, request, view):
        return bool(
            request.user and request.user.is_authenticated and selectors.is_lead(request.user)
        )


class ProjectListApi(ServiceErrorsMixin, APIView):
    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = Project
            fields = ["id", "name", *EDITABLE]

    def get(self, request):
        projects = selectors.projects_for_user(request.user)
        return Response(self.OutputSerializer(projects, many=True).data)


class ProjectDetailApi(ServiceErrorsMixin, APIView):
    class InputSerializer(serializers.Serializer):
        overlap = serializers.IntegerField(min_value=1, max_value=100, required=False)
        lease_minutes = serializers.IntegerField(min_value=1, max_value=24 * 60, required=False)
        qc_rate = serializers.FloatField(min_value=0, max_value=1, required=False)
        screening_pass_mark = serializers.FloatField(min_value=0, max_value=1, required=False)
        qc_pause_threshold = serializers.FloatField(
            min_value=0, max_value=1, required=False, allow_null=True
        )
        qc_pause_min_questions = serializers.IntegerField(min_value=1, required=False)

    def get_permissions(self):
        if self.request.method == "GET":
            return [permissions.IsAuthenticated()]
        return [IsLead()]

    def get(self, request, project_id: int):
        project = selectors.projects_for_user(request.user).filter(pk=project_id).first()
        if project is None:
            raise NotFound("No such project.")
        return Response(ProjectListApi.OutputSerializer(project).data)

    def patch(self, request, project_id: int):
        project = selectors.project_for_lead(request.user, project_id)
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        project = project_update(project=project, **data.validated_data)
        return Response(ProjectListApi.OutputSerializer(project).data)


class LabelingGoldApi(ServiceErrorsMixin, APIView):
    permission_classes = [IsLead]

    def post(self, request, labeling_id: int):
        labeling = Labeling.objects.filter(pk=labeling_id).first()
        if labeling is None:
            raise NotFound("No such labeling.")
        gold = gold_mark(labeling=labeling, by=request.user)
        return Response({"solution": gold.solution_id, "labeling": gold.labeling_id})


class CanSeeStatistics(permissions.BasePermission):
    message = "Statistics are for project leads and researchers."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and selectors.can_see_statistics(user))


class ProjectStatsApi(ServiceErrorsMixin, APIView):
    permission_classes = [CanSeeStatistics]

    class FilterSerializer(serializers.Serializer):
        generation = serializers.IntegerField(required=False, min_value=-1)
        since = serializers.DateTimeField(required=False)
        until = serializers.DateTimeField(required=False)

        def validate(self, attrs):
            if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
                raise serializers.ValidationError({"until": "must be after since"})
            return attrs

    def get(self, request, project_id: int):
        project = selectors.project_for_statistics(request.user, project_id)
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        stats = project_statistics(project, StatsFilter(**params.validated_data))
        return Response(stats)
