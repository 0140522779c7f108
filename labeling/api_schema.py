"""OpenAPI descriptions of the annotator API's views (labeling/api.py), kept beside them rather
than in them: drf-spectacular view extensions give each APIView its request and response
schemas, so /api/schema/ documents (and the schema-driven fuzz test checks) every endpoint."""

import functools

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers

from labeling.models import FinishReason, LabelingStatus

_NEXT = inline_serializer(
    "AssignmentNext",
    {
        "id": serializers.IntegerField(),
        "solution": serializers.IntegerField(),
        "kind": serializers.ChoiceField(choices=["task", "quality_control", "screening"]),
    },
)
_DRAFT_SAVED = inline_serializer(
    "DraftSaved",
    {
        "saved": serializers.BooleanField(),
        "total_time_ms": serializers.IntegerField(allow_null=True),
    },
)
_SUBMITTED = inline_serializer(
    "Submitted",
    {
        "id": serializers.IntegerField(),
        "status": serializers.ChoiceField(choices=LabelingStatus.choices),
        "finish_reason": serializers.ChoiceField(choices=FinishReason.choices, allow_null=True),
        "total_time_ms": serializers.IntegerField(allow_null=True),
    },
)
_GOLD = inline_serializer(
    "GoldMarked",
    {"solution": serializers.IntegerField(), "labeling": serializers.IntegerField()},
)
_ERROR = OpenApiResponse(description="Bad input or a state that does not allow this.")


@functools.cache
def named(serializer_class, name: str):
    """The serializer under a component name of its own (the views' nested classes are all
    called InputSerializer / OutputSerializer)."""
    return type(f"{name}Serializer", (serializer_class,), {})


class _Extension(OpenApiViewExtension):
    def view_replacement(self):
        return self.decorate(self.target)

    def decorate(self, view):  # pragma: no cover - each subclass defines it
        raise NotImplementedError


class AssignmentNextSchema(_Extension):
    target_class = "labeling.api.AssignmentNextApi"

    def decorate(self, view):
        class Fixed(view):
            @extend_schema(
                request=named(view.InputSerializer, "AssignmentNext"),
                responses={
                    200: _NEXT,
                    204: OpenApiResponse(description="Nothing to do (X-No-Task-Reason says why)."),
                    400: _ERROR,
                },
            )
            def post(self, request):
                return super().post(request)

        return Fixed


class AssignmentDetailSchema(_Extension):
    target_class = "labeling.api.AssignmentDetailApi"

    def decorate(self, view):
        class Fixed(view):
            @extend_schema(responses={200: OpenApiTypes.OBJECT})
            def get(self, request, assignment_id: int):
                return super().get(request, assignment_id)

        return Fixed


class AssignmentDraftSchema(_Extension):
    target_class = "labeling.api.AssignmentDraftApi"

    def decorate(self, view):
        class Fixed(view):
            @extend_schema(
                request=named(view.InputSerializer, "Draft"),
                responses={200: _DRAFT_SAVED, 400: _ERROR},
            )
            def put(self, request, assignment_id: int):
                return super().put(request, assignment_id)

        return Fixed


class AssignmentSubmitSchema(_Extension):
    target_class = "labeling.api.AssignmentSubmitApi"

    def decorate(self, view):
        class Fixed(view):
            @extend_schema(
                request=named(view.InputSerializer, "Submit"),
                responses={200: _SUBMITTED, 400: _ERROR},
            )
            def post(self, request, assignment_id: int):
                return super().post(request, assignment_id)

        return Fixed


class ProjectListSchema(_Extension):
    target_class = "labeling.api.ProjectListApi"

    def decorate(self, view):
        class Fixed(view):
            @extend_schema(
                operation_id="projects_list",
                responses=named(view.OutputSerializer, "Project")(many=True),
            )
            def get(self, request):
                return super().get(request)

        return Fixed


class ProjectDetailSchema(_Extension):
    target_class = "labeling.api.ProjectDetailApi"

    def decorate(self, view):
        from labeling.api import ProjectListApi

        project = named(ProjectListApi.OutputSerializer, "Project")

        class Fixed(view):
            @extend_schema(responses=project)
            def get(self, request, project_id: int):
                return super().get(request, project_id)

            @extend_schema(
                request=named(view.InputSerializer, "ProjectSettings"),
                responses={200: project, 400: _ERROR},
            )
            def patch(self, request, project_id: int):
                return super().patch(request, project_id)

        return Fixed


class LabelingGoldSchema(_Extension):
    target_class = "labeling.api.LabelingGoldApi"

    def decorate(self, view):
        class Fixed(view):
            @extend_schema(request=None, responses={200: _GOLD, 400: _ERROR})
            def post(self, request, labeling_id: int):
                return super().post(request, labeling_id)

        return Fixed


class ProjectStatsSchema(_Extension):
    target_class = "labeling.api.ProjectStatsApi"

    def decorate(self, view):
        class Fixed(view):
            @extend_schema(
                parameters=[
                    OpenApiParameter("generation", int, description="generation number"),
                    OpenApiParameter("since", OpenApiTypes.DATETIME),
                    OpenApiParameter("until", OpenApiTypes.DATETIME),
                ],
                responses={200: OpenApiTypes.OBJECT, 400: _ERROR},
            )
            def get(self, request, project_id: int):
                return super().get(request, project_id)

        return Fixed
