"""REST API of the loop (DRF): runs (list, trigger, detail, retry, cancel), generator runs
(start, stop), loop settings and on-demand grading. Leads and researchers read; leads write;
annotators get 403 (the role rules of labeling/permissions.py). An ApplicationError a service
raises answers through the one DRF exception handler (labeling/error_edges.py): 404, 409 or
400, `{"detail", "errors"}`."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.response import Response

from active_learning import generator_runs
from active_learning.loop import params, triggers
from active_learning.models import Run, RunTrigger
from active_learning.serializers import (
    GenerateSerializer,
    GradeSerializer,
    LoopSettingsSerializer,
    QueuedSerializer,
    RunDetailSerializer,
    RunSerializer,
    RunTriggerSerializer,
)
from labeling.errors import NotFound
from labeling.permissions import is_lead, is_researcher, research_project

ERROR = OpenApiResponse(description='`{"detail": message}`')


class LoopPermission(permissions.BasePermission):
    """Read: leads and researchers (`is_researcher`). Write: leads (`is_lead`)."""

    message = "Only project leads and researchers can use the loop's API (leads to change it)."

    def has_permission(self, request, view):
        if not is_researcher(request.user):
            return False
        return request.method in permissions.SAFE_METHODS or is_lead(request.user)


class LoopApi(generics.GenericAPIView):
    permission_classes = [permissions.IsAuthenticated, LoopPermission]

    def project(self):
        return research_project(self.request.user, self.kwargs["project_id"])

    def run(self) -> Run:
        run = Run.objects.filter(pk=self.kwargs["run_id"]).select_related("project").first()
        if run is None:
            raise NotFound("No such run.")
        research_project(self.request.user, run.project_id)
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
        run = triggers.run_trigger(
            project=self.project(),
            trigger=RunTrigger.API,
            user=request.user,
            params=dict(data.validated_data),
        )
        return Response(RunDetailSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunDetailApi(LoopApi):
    """One active-learning run: status, stage, progress, timings, model version,
    generation published, and its log."""

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
        run = triggers.run_retry(run=self.run(), user=request.user)
        return Response(RunDetailSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunCancelApi(LoopApi):
    """Cancel a queued run (one no worker has started)."""

    serializer_class = RunDetailSerializer
    queryset = Run.objects.none()

    @extend_schema(request=None, responses={200: RunDetailSerializer, 409: ERROR})
    def post(self, request, run_id: int):
        run = triggers.run_cancel(run=self.run(), user=request.user)
        return Response(RunDetailSerializer(run).data)


class ProjectGenerateApi(LoopApi):
    """Start a generator run (202): sample candidate solutions for the project's problems with
    the options given (docs/generator.md), grade and store them, on a `gpu` worker. Follow it
    at /api/runs/{id}/ (stage `generate`, `throughput.generation`). 400 naming each bad option
    (an unusable prompt template among them); 409 when the project has an active run."""

    serializer_class = GenerateSerializer
    queryset = Run.objects.none()

    @extend_schema(
        request=GenerateSerializer, responses={202: RunDetailSerializer, 400: ERROR, 409: ERROR}
    )
    def post(self, request, project_id: int):
        data = GenerateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        options = dict(data.validated_data)
        problem_ids = options.pop("problem_ids", None)
        run = generator_runs.generation_run_start(
            project=self.project(),
            options=options,
            problem_ids=problem_ids,
            trigger=RunTrigger.API,
            user=request.user,
        )
        return Response(RunDetailSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunStopApi(LoopApi):
    """Stop a generator run: a queued one is cancelled, one that is generating ends after the
    batch in flight and keeps the solutions stored so far. 409 for any other run."""

    serializer_class = RunDetailSerializer
    queryset = Run.objects.none()

    @extend_schema(request=None, responses={200: RunDetailSerializer, 409: ERROR})
    def post(self, request, run_id: int):
        run = generator_runs.generation_stop(run=self.run(), user=request.user)
        return Response(RunDetailSerializer(run).data)


class LoopSettingsApi(LoopApi):
    """GET: the project's loop settings (retrain trigger, generation size, selection and
    training choices). PATCH (leads): change some of them."""

    serializer_class = LoopSettingsSerializer
    queryset = Run.objects.none()

    def get(self, request, project_id: int):
        return Response(LoopSettingsSerializer(params.loop_settings_get(self.project())).data)

    def patch(self, request, project_id: int):
        row = params.loop_settings_get(self.project())
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
