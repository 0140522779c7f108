from django.urls import path
from rest_framework.routers import SimpleRouter

from labeling import adjudication_api, api, api_root, phase1_api, research_api

# The researcher API (labeling/research_api.py; its solutions and model versions, which show
# the loop's data, are active_learning/research_api.py, routed in active_learning/api_urls.py).
router = SimpleRouter()
router.register("problems", research_api.ProblemViewSet, basename="api-problem")
router.register("generations", research_api.GenerationViewSet, basename="api-generation")
router.register("labelings", research_api.LabelingViewSet, basename="api-labeling")
router.register("exports", research_api.ExportJobViewSet, basename="api-export")
router.register("imports", research_api.ImportJobViewSet, basename="api-import")
router.register("tokens", research_api.TokenViewSet, basename="api-token")

urlpatterns = [
    path("", api_root.ApiRootView.as_view(), name="api-root"),
    path("auth/token/", research_api.TokenObtainView.as_view(), name="api-token-obtain"),
    path("projects/", api.ProjectListApi.as_view(), name="api-projects"),
    path("projects/<int:project_id>/", api.ProjectDetailApi.as_view(), name="api-project"),
    path(
        "projects/<int:project_id>/stats/", api.ProjectStatsApi.as_view(), name="api-project-stats"
    ),
    path(
        "projects/<int:project_id>/disagreements/",
        adjudication_api.ProjectDisagreementsApi.as_view(),
        name="api-project-disagreements",
    ),
    path(
        "projects/<int:project_id>/solutions/<int:solution_id>/adjudication/",
        adjudication_api.SolutionAdjudicationApi.as_view(),
        name="api-solution-adjudication",
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
    path(
        "assignments/<int:assignment_id>/phase1/",
        phase1_api.Phase1TaskApi.as_view(),
        name="api-assignment-phase1",
    ),
]
urlpatterns += router.urls
