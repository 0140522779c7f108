"""REST API of the loop (DRF): runs (list, trigger, detail, retry, cancel), loop settings and
on-demand grading. Leads and researchers read; leads write; annotators get 403."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.exceptions import NotFound as DRFNotFound
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from active_learning import pipeline, selectors
from active_learning.models import Run, RunTrigger
from active_learning.serializers import (
    GradeSerializer,
    LoopSettingsSerializer,
    QueuedSerializer,
    RunDetailSerializer,
    RunSerializer,
    RunTriggerSerializer,
)
from labeling.errors import ApplicationError, Conflict, NotFound

ERROR = OpenApiResponse(description='`{"detail": message}`')


class LoopPermission(permissions.BasePermission):
    """Read: leads and researchers. Write: leads."""

    message = "Only project leads and researchers can use the loop's API (leads to change it)."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and selectors.can_view_loop(user)):
            return False
        return request.method in permissions.SAFE_METHODS or selectors.can_run_loop(user)


class LoopApi(generics.GenericAPIView):
    permission_classes = [permissions.IsAuthenticated, LoopPermission]

    def handle_exception(self, exc):
        if isinstance(exc, NotFound):
            exc = DRFNotFound(exc.message)
        elif isinstance(exc, Conflict):
            return Response({"detail": exc.message}, status=status.HTTP_409_CONFLICT)
        elif isinstance(exc, ApplicationError):
            exc = ValidationError({"detail": exc.message, "errors": exc.details})
        return super().handle_exception(exc)

    def project(self):
        return selectors.project_for_loop(self.request.user, self.kwargs["project_id"])

    def run(self) -> Run:
        run = Run.objects.filter(pk=self.kwargs["run_id"]).select_related("project").first()
        if run is None:
            raise NotFound("No such run.")
        selectors.project_for_loop(self.request.user, run.project_id)
        return run


class ProjectRunsApi(LoopApi, generics.ListAPIView):
    """GET: the project's runs, newest first. POST: start a run (202), with optional overrides
    of the loop settings; 409 when the project already has an active run."""

    serializer_class = RunSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Run.objects.none()
        return (
            Run.objects.filter(project=self.project())
            .select_related("requested_by", "generation")
            .order_by("-id")
        )

    @extend_schema(
        request=RunTriggerSerializer,
        responses={202: RunDetailSerializer, 400: ERROR, 409: ERROR},
    )
    def post(self, request, project_id: int):
        data = RunTriggerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = pipeline.run_trigger(
            project=self.project(),
            trigger=RunTrigger.API,
            user=request.user,
            params=dict(data.validated_data),
        )
        return Response(RunDetailSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunDetailApi(LoopApi):
    serializer_class = RunDetailSerializer
    queryset = Run.objects.none()

    def get(self, request, run_id: int):
        return Response(RunDetailSerializer(self.run()).data)


class RunRetryApi(LoopApi):
    """Start a failed run again as a new run with the same parameters (202)."""

    serializer_class = RunDetailSerializer
    queryset = Run.objects.none()

    @extend_schema(request=None, responses={202: RunDetailSerializer, 409: ERROR})
    def post(self, request, run_id: int):
        run = pipeline.run_retry(run=self.run(), user=request.user)
        return Response(RunDetailSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunCancelApi(LoopApi):
    """Cancel a queued run (one no worker has started)."""

    serializer_class = RunDetailSerializer
    queryset = Run.objects.none()

    @extend_schema(request=None, responses={200: RunDetailSerializer, 409: ERROR})
    def post(self, request, run_id: int):
        run = pipeline.run_cancel(run=self.run(), user=request.user)
        return Response(RunDetailSerializer(run).data)


class LoopSettingsApi(LoopApi):
    serializer_class = LoopSettingsSerializer
    queryset = Run.objects.none()

    def get(self, request, project_id: int):
        return Response(LoopSettingsSerializer(pipeline.loop_settings_get(self.project())).data)

    def patch(self, request, project_id: int):
        row = pipeline.loop_settings_get(self.project())
        data = LoopSettingsSerializer(row, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        data.save()
        return Response(data.data)


class GradeApi(LoopApi):
    """Queue grading of the project's final answers (202); 503 when the broker is down."""

    serializer_class = GradeSerializer
    queryset = Run.objects.none()

    @extend_schema(
        request=GradeSerializer, responses={202: QueuedSerializer, 503: QueuedSerializer}
    )
    def post(self, request, project_id: int):
        from active_learning.grading import grading_enqueue

        data = GradeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = self.project()
        if grading_enqueue(project.pk, regrade=data.validated_data["regrade"]):
            body = {"queued": True, "detail": "grading queued"}
            return Response(QueuedSerializer(body).data, status=status.HTTP_202_ACCEPTED)
        body = {"queued": False, "detail": "background jobs are paused: the broker is down"}
        return Response(QueuedSerializer(body).data, status=status.HTTP_503_SERVICE_UNAVAILABLE)
