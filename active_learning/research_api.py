"""The researcher API's endpoints on the loop's data: PRM model versions, and candidate
solutions with every model version's scores (/api/model-versions/, /api/solutions/).

They are part of labeling's researcher surface (labeling/research_api.py: who may read what,
pagination, filters, the solution fields) and live here because labeling never imports the
loop (docs/architecture.md); their output serializers and filter are the few lines below."""

import django_filters
from django.db.models import Prefetch
from rest_framework import mixins, serializers

from active_learning.models import ModelStatus, ModelVersion, SolutionScore
from labeling.models import Solution
from labeling.research_api import ResearchViewSet
from labeling.research_filters import BooleanFilter, IntegerColumnFilter, SolutionFilter
from labeling.serializers import SolutionSerializer


class SolutionScoreSerializer(serializers.ModelSerializer):
    class Meta:
        model = SolutionScore
        fields = ["model_version", "score", "step_scores", "truncated", "created_at"]


class SolutionDetailSerializer(SolutionSerializer):
    prm_scores = SolutionScoreSerializer(many=True, read_only=True)

    class Meta(SolutionSerializer.Meta):
        fields = [*SolutionSerializer.Meta.fields, "prm_scores"]


class ModelVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "project",
            "status",
            "is_current",
            "backbone",
            "parent",
            "settings",
            "data_snapshot",
            "metrics",
            "started_at",
            "finished_at",
            "created_at",
        ]


class ModelVersionDetailSerializer(ModelVersionSerializer):
    class Meta(ModelVersionSerializer.Meta):
        fields = [*ModelVersionSerializer.Meta.fields, "checkpoint", "log"]


class ModelVersionFilter(django_filters.FilterSet):
    project = IntegerColumnFilter(field_name="project_id")
    status = django_filters.ChoiceFilter(choices=ModelStatus.choices)
    is_current = BooleanFilter()

    class Meta:
        model = ModelVersion
        fields = []


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


class ModelVersionViewSet(ResearchViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """PRM versions: status, current or not, backbone, training settings and data, metrics
    (held-out step ROC AUC, ProcessBench); the detail adds the checkpoint and training log."""

    filterset_class = ModelVersionFilter

    def get_serializer_class(self):
        return ModelVersionDetailSerializer if self.action == "retrieve" else ModelVersionSerializer

    def get_queryset(self):
        queryset = self.in_my_projects(ModelVersion.objects.order_by("-id"))
        if self.action == "list":
            queryset = queryset.defer("log")
        return queryset
