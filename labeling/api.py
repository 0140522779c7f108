"""REST API of the labeling app (DRF): one view class per operation; each parses input, calls
one service or selector, and renders."""

from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound as DRFNotFound
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import selectors
from labeling.errors import ApplicationError, Conflict, NotFound
from labeling.models import FinishReason, Project
from labeling.services import assignments


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
        project = None
        if "project" in data.validated_data:
            project = get_object_or_404(Project, pk=data.validated_data["project"])
        labeling = assignments.assignment_next(
            user=request.user,
            project=project,
            exclude=tuple(data.validated_data.get("exclude", ())),
        )
        if labeling is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
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
        return Response(selectors.assignment_view(labeling))


class AssignmentDraftApi(ServiceErrorsMixin, APIView):
    class InputSerializer(serializers.Serializer):
        steps = serializers.JSONField()
        total_time_ms = serializers.IntegerField(required=False, min_value=0)

    def put(self, request, assignment_id: int):
        labeling = selectors.assignment_for_user(request.user, assignment_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        labeling = assignments.draft_save(
            labeling=labeling,
            steps=data.validated_data["steps"],
            total_time_ms=data.validated_data.get("total_time_ms"),
        )
        return Response({"saved": True, "total_time_ms": labeling.total_time_ms})


class AssignmentSubmitApi(ServiceErrorsMixin, APIView):
    class InputSerializer(serializers.Serializer):
        finish_reason = serializers.ChoiceField(choices=FinishReason.values)
        reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)
        total_time_ms = serializers.IntegerField(required=False, min_value=0)

    def post(self, request, assignment_id: int):
        labeling = selectors.assignment_for_user(request.user, assignment_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        labeling = assignments.labeling_submit(
            labeling=labeling,
            finish_reason=data.validated_data["finish_reason"],
            reason=data.validated_data.get("reason", ""),
            total_time_ms=data.validated_data.get("total_time_ms"),
        )
        return Response(
            {
                "id": labeling.pk,
                "status": labeling.status,
                "finish_reason": labeling.finish_reason,
                "total_time_ms": labeling.total_time_ms,
            }
        )
