"""The researcher API: read-only resources (problems, generations, labelings as PRM800K
records), background export and import jobs, and API tokens. Solutions (with the loop's PRM
scores) and model versions are active_learning/research_api.py, on the base classes here.

Access (labeling/permissions.py): leads see every project, researchers the projects they are
members of; annotators get 403 from every resource here (they use the assignment API), except
their own API tokens.
"""

from pathlib import Path

from django.contrib.auth import authenticate
from django.db.models import Count
from django.http import FileResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import jobs, login_limits, research_auth
from labeling.api_paging import Pagination
from labeling.errors import Conflict
from labeling.models import (
    ApiToken,
    ExportJob,
    Generation,
    ImportJob,
    JobStatus,
    Labeling,
    LabelingStatus,
    Problem,
)
from labeling.permissions import IsLeadOrResearcher, research_projects
from labeling.research_filters import (
    GenerationFilter,
    LabelingFilter,
    ProblemFilter,
)
from labeling.serializers import (
    ApiTokenSerializer,
    ExportJobSerializer,
    GenerationSerializer,
    ImportJobSerializer,
    LabelingSerializer,
    NewApiTokenSerializer,
    ProblemSerializer,
    TokenObtainSerializer,
)


class ResearchViewSet(viewsets.GenericViewSet):
    permission_classes = [IsLeadOrResearcher]
    pagination_class = Pagination
    filter_backends = [DjangoFilterBackend]

    def in_my_projects(self, queryset):
        return queryset.filter(project__in=research_projects(self.request.user))


class ProblemViewSet(ResearchViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Problems: text, reference solution and answer, subject, level, external id (e.g.
    MATH's `unique_id`)."""

    serializer_class = ProblemSerializer
    filterset_class = ProblemFilter

    def get_queryset(self):
        return self.in_my_projects(Problem.objects.order_by("id"))


class GenerationViewSet(ResearchViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Generations (batches queued for labeling): number (-1 is the screening set), the
    strategy and parameters that chose them, their size."""

    serializer_class = GenerationSerializer
    filterset_class = GenerationFilter

    def get_queryset(self):
        return self.in_my_projects(
            Generation.objects.annotate(solution_count=Count("items")).order_by("project", "number")
        )


class LabelingViewSet(ResearchViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Submitted labelings; `record` is each one's PRM800K record (what the PRM800K export
    writes for it)."""

    serializer_class = LabelingSerializer
    filterset_class = LabelingFilter

    def get_queryset(self):
        return self.in_my_projects(
            Labeling.objects.filter(status=LabelingStatus.SUBMITTED)
            .select_related("solution__problem", "labeler", "generation")
            .order_by("id")
        )


@extend_schema_view(
    create=extend_schema(description="Queue an export; poll the job until `status` is `done`."),
    destroy=extend_schema(
        responses={204: None, 409: OpenApiResponse(description="The export is running.")}
    ),
)
class ExportJobViewSet(
    ResearchViewSet,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
):
    """Background exports of a project's submitted labelings."""

    serializer_class = ExportJobSerializer
    filterset_fields = ["project", "status", "format"]

    def get_queryset(self):
        return self.in_my_projects(ExportJob.objects.select_related("created_by").order_by("-id"))

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = jobs.export_job_create(
            user=self.request.user,
            project=data["project"],
            export_format=data["format"],
            filters=data.get("filters") or {},
        )

    def perform_destroy(self, instance):
        if instance.status == JobStatus.RUNNING:
            raise Conflict("The export is running; delete it when it has finished.")
        jobs.job_files_remove(instance)
        instance.delete()

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY),
            409: OpenApiResponse(description="The export is not done."),
        }
    )
    @action(detail=True, methods=["get"], url_path="download")
    def download(self, request, pk=None):
        """The finished export file, streamed."""
        job = self.get_object()
        path = Path(job.file) if job.file else None
        if job.status != JobStatus.DONE or path is None or not path.is_file():
            raise Conflict(f"The export is {job.get_status_display().lower()}, not ready.")
        return FileResponse(
            open(path, "rb"),  # FileResponse closes it
            as_attachment=True,
            filename=path.name,
            content_type="application/octet-stream",
        )


class ImportJobViewSet(
    ResearchViewSet,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
):
    """Background imports of uploaded files (multipart: `project`, `kind`, `file`, and for
    solutions an optional `generation`). All or nothing per file; `errors` lists
    `FILE:LINE: field: what is wrong`."""

    serializer_class = ImportJobSerializer
    parser_classes = [MultiPartParser, FormParser]
    filterset_fields = ["project", "status", "kind"]

    def get_queryset(self):
        return self.in_my_projects(ImportJob.objects.select_related("created_by").order_by("-id"))

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = jobs.import_job_create(
            user=self.request.user,
            project=data["project"],
            kind=data["kind"],
            upload=data["file"],
            generation=data.get("generation"),
        )


# --- tokens -----------------------------------------------------------------------------------


class TokenViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The caller's own API tokens (any role). The key is in the creation answer only."""

    serializer_class = ApiTokenSerializer
    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = [research_auth.ClientAddressThrottle]
    throttle_scope = "tokens"
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=self.request.user)

    @extend_schema(request=ApiTokenSerializer, responses={201: NewApiTokenSerializer})
    def create(self, request, *args, **kwargs):
        serializer = ApiTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = research_auth.token_create(
            user=request.user, name=serializer.validated_data["name"]
        )
        token.key = key
        return Response(NewApiTokenSerializer(token).data, status=status.HTTP_201_CREATED)


class TokenObtainView(APIView):
    """Exchange a user name and password for a new named token, under the same password-guessing
    limits as the login form (labeling.login_limits; 429 with Retry-After past one), and a rate
    limit per client address on requests of any outcome."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [research_auth.ClientAddressThrottle]
    throttle_scope = "token_obtain"

    @extend_schema(
        request=TokenObtainSerializer,
        responses={201: NewApiTokenSerializer, 400: OpenApiResponse(description="Bad login.")},
    )
    def post(self, request):
        data = TokenObtainSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        attempt = login_limits.login_attempt_begin(
            request=request, username=data.validated_data["username"]
        )
        if attempt.refused:
            raise Throttled(wait=attempt.retry_after, detail=login_limits.REFUSED_MESSAGE)
        user = authenticate(
            request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        login_limits.login_attempt_end(attempt, success=user is not None)
        if user is None:
            raise ValidationError({"detail": "Unknown user name or wrong password."})
        token, key = research_auth.token_create(user=user, name=data.validated_data["name"])
        token.key = key
        return Response(NewApiTokenSerializer(token).data, status=status.HTTP_201_CREATED)
