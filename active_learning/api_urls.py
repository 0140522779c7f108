from django.urls import path

from active_learning import api

urlpatterns = [
    path("projects/<int:project_id>/runs/", api.ProjectRunsApi.as_view(), name="api-runs"),
    path(
        "projects/<int:project_id>/loop-settings/",
        api.LoopSettingsApi.as_view(),
        name="api-loop-settings",
    ),
    path("projects/<int:project_id>/grade/", api.GradeApi.as_view(), name="api-grade"),
    path("runs/<int:run_id>/", api.RunDetailApi.as_view(), name="api-run"),
    path("runs/<int:run_id>/retry/", api.RunRetryApi.as_view(), name="api-run-retry"),
    path("runs/<int:run_id>/cancel/", api.RunCancelApi.as_view(), name="api-run-cancel"),
]
