from django.urls import path
from rest_framework.routers import SimpleRouter

from labeling import api, research_api

# The researcher API (labeling/research_api.py).
router = SimpleRouter()
router.register("problems", research_api.ProblemViewSet, basename="api-problem")
router.register("solutions", research_api.SolutionViewSet, basename="api-solution")
router.register("generations", research_api.GenerationViewSet, basename="api-generation")
router.register("labelings", research_api.LabelingViewSet, basename="api-labeling")
router.register("model-versions", research_api.ModelVersionViewSet, basename="api-model-version")
router.register("exports", research_api.ExportJobViewSet, basename="api-export")
router.register("imports", research_api.ImportJobViewSet, basename="api-import")
router.register("tokens", research_api.TokenViewSet, basename="api-token")

urlpatterns = [
    path("auth/token/", research_api.TokenObtainView.as_view(), name="api-token-obtain"),
    path("projects/", api.ProjectListApi.as_view(), name="api-projects"),
    path("projects/<int:project_id>/", api.ProjectDetailApi.as_view(), name="api-project"),
    path(
        "projects/<int:project_id>/stats/", api.ProjectStatsApi.as_view(), name="api-project-stats"
    ),
    path("labelings/<int:labeling_id>/gold/", api.LabelingGoldApi.as_view(), name="api-gold"),
    path("assignments/next/", api.AssignmentNextApi.as_view(), name="api-assignment-next"),
    path(
        "assignments/<int:assignment_id>/",
        api.AssignmentDetailApi.as_view(),
        name="api-assignment-detail",
    ),
    path(
        "assignments/<int:assignment_id>/draft/",
        api.AssignmentDraftApi.as_view(),
        name="api-assignment-draft",
    ),
    path(
        "assignments/<int:assignment_id>/submit/",
        api.AssignmentSubmitApi.as_view(),
        name="api-assignment-submit",
    ),
]
urlpatterns += router.urls
