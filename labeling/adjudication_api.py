"""The review API of model-assisted labeling (docs/model-assisted.md): the disagreement queue,
a solution's labelings side by side, and a lead's ruling on its first error."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import review_selectors
from labeling.api_serializers import ERROR, DisagreementQueueSerializer, SideBySideSerializer
from labeling.input_rules import (
    INT32,
    JsonIntegerField,
    JsonStringField,
    KnownFieldsSerializer,
    text_policy,
)
from labeling.models import Solution
from labeling.permissions import IsLead, IsLeadOrResearcher, lead_project, research_project
from labeling.services.adjudication import adjudication_record


class SolutionAdjudicationApi(APIView):
    permission_classes = [IsLead]

    @extend_schema_serializer(component_name="AdjudicationInput")
    class InputSerializer(KnownFieldsSerializer):
        # an unknown field (`first_eror`, `notes`) is a 400 naming it, and nothing is recorded
        first_error = JsonIntegerField(
            min_value=-1, max_value=32_767, help_text="0-based step of the first error; -1: none"
        )
        note = JsonStringField(
            required=False, allow_blank=True, max_length=2000, validators=[text_policy]
        )

    @extend_schema(
        summary="A solution's labelings side by side (leads)",
        description="Per step every submitted labeling's rating and flag, each labeling's "
        "first error, time and finish reason, and the adjudication if any.",
        responses={200: SideBySideSerializer, 400: ERROR},
    )
    def get(self, request, project_id: int, solution_id: int):
        project = lead_project(request.user, project_id)
        return Response(review_selectors.solution_side_by_side(project, solution_id))

    @extend_schema(
        summary="Record the adjudicated first error (leads)",
        description="Replaces any earlier ruling; the labelings are not changed. Training "
        "uses the ruling instead of the solution's labelings; the PRM800K export carries it "
        "in the `adjudication` extension field. A disagreement-queue item of the solution "
        "still waiting for its one more labeling is closed (never served again; its outcome "
        "is `adjudicated`). Integers are JSON integers only; a field other than "
        "`first_error` and `note` is a 400 naming it, and nothing is recorded.",
        request=InputSerializer,
        responses={200: SideBySideSerializer, 400: ERROR},
    )
    def put(self, request, project_id: int, solution_id: int):
        project = lead_project(request.user, project_id)
        solution = Solution.objects.filter(project=project, pk=solution_id).first()
        if solution is None:
            review_selectors.solution_side_by_side(project, solution_id)  # the 404
        data = self.InputSerializer(data=request.data)
        if not data.is_valid():
            raise ValidationError(data.errors)
        adjudication_record(
            solution=solution,
            user=request.user,
            first_error=data.validated_data["first_error"],
            note=data.validated_data.get("note", ""),
        )
        return Response(review_selectors.solution_side_by_side(project, solution_id))


class ProjectDisagreementsApi(APIView):
    """The disagreement queue (docs/model-assisted.md): queued solutions with their reason
    and outcome."""

    permission_classes = [IsLeadOrResearcher]

    class FilterSerializer(serializers.Serializer):
        generation = serializers.IntegerField(required=False, min_value=-1, max_value=INT32[1])

    @extend_schema(
        summary="A project's disagreement queue",
        description="Solutions queued for one more labeling after a run because people and "
        "the new PRM, or people among themselves, disagree about the first error; per item "
        "the reason, what the rule saw (`detail`), the first errors now and the outcome "
        "(`pending`, `majority` with whether it agrees with the model, `no_majority`).",
        parameters=[OpenApiParameter("generation", int, description="generation number")],
        responses={200: DisagreementQueueSerializer, 400: ERROR},
    )
    def get(self, request, project_id: int):
        project = research_project(request.user, project_id)
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(
            {
                "project": project.pk,
                "items": review_selectors.disagreement_queue(
                    project, params.validated_data.get("generation")
                ),
            }
        )
