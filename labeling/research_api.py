"""The researcher API: read-only resources (problems, solutions, generations, labelings as
PRM800K records, model versions), background export and import jobs, and API tokens.

Access: leads see every project, researchers the projects they are members of; annotators get
403 from every resource here (they use the assignment API), except their own API tokens.
"""

from pathlib import Path

from django.contrib.auth import authenticate
from django.db.models import Count, Prefetch
from django.http import FileResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from active_learning.models import ModelVersion, SolutionScore
from labeling import api_schema, jobs, research_auth  # noqa: F401 (api_schema: OpenAPI)
from labeling.errors import ApplicationError
from labeling.models import (
    ApiToken,
    ExportJob,
    Generation,
    ImportJob,
    JobStatus,
    Labeling,
    LabelingStatus,
    Problem,
    Project,
    Role,
    Solution,
    User,
)
from labeling.research_filters import (
    LabelingFilter,
    ModelVersionFilter,
    ProblemFilter,
    SolutionFilter,
)
from labeling.serializers import (
    ApiTokenSerializer,
    ExportJobSerializer,
    GenerationSerializer,
    ImportJobSerializer,
    LabelingSerializer,
    ModelVersionDetailSerializer,
    ModelVersionSerializer,
    NewApiTokenSerializer,
    ProblemSerializer,
    SolutionDetailSerializer,
    SolutionSerializer,
    TokenObtainSerializer,
)


def is_researcher(user: User) -> bool:
    """Leads and researchers (and superusers) use the researcher surface; annotators do not."""
    return bool(
        user
        and user.is_authenticated
        and (user.is_superuser or user.role in (Role.LEAD, Role.RESEARCHER))
    )


def research_projects(user: User):
    """Projects whose data the user may read, export and import: every project for leads,
    the projects they are members of for researchers, none for annotators."""
    if not is_researcher(user):
        return Project.objects.none()
    if user.is_superuser or user.role == Role.LEAD:
        return Project.objects.all()
    return Project.objects.filter(members=user)


class IsResearcherOrLead(permissions.BasePermission):
    message = "Only researchers and project leads may use this."

    def has_permission(self, request, view):
        return is_researcher(request.user)


class Pagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class ResearchViewSet(viewsets.GenericViewSet):
    permission_classes = [IsResearcherOrLead]
    pagination_class = Pagination
    filter_backends = [DjangoFilterBackend]

    def in_my_projects(self, queryset):
        return queryset.filter(project__in=research_projects(self.request.user))


class ProblemViewSet(ResearchViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = ProblemSerializer
    filterset_class = ProblemFilter

    def get_queryset(self):
        return self.in_my_projects(Problem.objects.order_by("id"))


class SolutionViewSet(ResearchViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Candidate solutions with their grade (`is_correct`) and the current PRM score
    (`prm_score`); the detail adds every model version's score and step scores."""

    filterset_class = SolutionFilter

    def get_serializer_class(self):
        return SolutionDetailSerializer if self.action == "retrieve" else SolutionSerializer

    def get_queryset(self):
        queryset = self.in_my_projects(Solution.objects.order_by("id"))
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(
                Prefetch("prm_scores", queryset=SolutionScore.objects.order_by("model_version_id"))
            )
        return queryset


class GenerationViewSet(ResearchViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = GenerationSerializer
    filterset_fields = ["project", "number"]

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


class ModelVersionViewSet(ResearchViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    filterset_class = ModelVersionFilter

    def get_serializer_class(self):
        return ModelVersionDetailSerializer if self.action == "retrieve" else ModelVersionSerializer

    def get_queryset(self):
        queryset = self.in_my_projects(ModelVersion.objects.order_by("-id"))
        if self.action == "list":
            queryset = queryset.defer("log")
        return queryset


class ServiceErrors:
    def handle_exception(self, exc):
        if isinstance(exc, ApplicationError):
            exc = ValidationError({"detail": exc.message, "errors": exc.details})
        return super().handle_exception(exc)


@extend_schema_view(
    create=extend_schema(description="Queue an export; poll the job until `status` is `done`."),
)
class ExportJobViewSet(
    ServiceErrors,
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
            raise ApplicationError("The export is running; delete it when it has finished.")
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
            return Response(
                {"detail": f"The export is {job.get_status_display().lower()}, not ready."},
                status=status.HTTP_409_CONFLICT,
            )
        return FileResponse(
            open(path, "rb"),  # FileResponse closes it
            as_attachment=True,
            filename=path.name,
            content_type="application/octet-stream",
        )


class ImportJobViewSet(
    ServiceErrors,
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
    ServiceErrors,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The caller's own API tokens (any role). The key is in the creation answer only."""

    serializer_class = ApiTokenSerializer
    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = [ScopedRateThrottle]
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


class TokenObtainView(ServiceErrors, APIView):
    """Exchange a user name and password for a new named token (rate-limited per address)."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token_obtain"

    @extend_schema(
        request=TokenObtainSerializer,
        responses={201: NewApiTokenSerializer, 400: OpenApiResponse(description="Bad login.")},
    )
    def post(self, request):
        data = TokenObtainSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user is None:
            raise ValidationError({"detail": "Unknown user name or wrong password."})
        token, key = research_auth.token_create(user=user, name=data.validated_data["name"])
        token.key = key
        return Response(NewApiTokenSerializer(token).data, status=status.HTTP_201_CREATED)
