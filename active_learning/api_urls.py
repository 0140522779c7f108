from django.urls import path
from rest_framework.routers import SimpleRouter

from active_learning import api, research_api

# The researcher API's endpoints on the loop's data (the rest is labeling/api_urls.py).
router = SimpleRouter()
router.register("solutions", research_api.SolutionViewSet, basename="api-solution")
router.register("model-versions", research_api.ModelVersionViewSet, basename="api-model-version")

urlpatterns = [
    path("projects/<int:project_id>/runs/", api.ProjectRunsApi.as_view(), name="api-runs"),
    path(
        "projects/<int:project_id>/loop-settings/",
        api.LoopSettingsApi.as_view(),
        name="api-loop-settings",
    ),
    path("projects/<int:project_id>/grade/", api.GradeApi.as_view(), name="api-grade"),
    path(
        "projects/<int:project_id>/generate/",
        api.ProjectGenerateApi.as_view(),
        name="api-generate",
    ),
    path("runs/<int:run_id>/", api.RunDetailApi.as_view(), name="api-run"),
    path("runs/<int:run_id>/retry/", api.RunRetryApi.as_view(), name="api-run-retry"),
    path("runs/<int:run_id>/cancel/", api.RunCancelApi.as_view(), name="api-run-cancel"),
    path("runs/<int:run_id>/stop/", api.RunStopApi.as_view(), name="api-run-stop"),
]
urlpatterns += router.urls
