from django.urls import include, path

from active_learning import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("api/", include("active_learning.api_urls")),
    path("projects/<int:project_id>/loop/", views.loop_page, name="loop"),
    path(
        "projects/<int:project_id>/loop/settings/",
        views.loop_settings_save,
        name="loop-settings",
    ),
    path("projects/<int:project_id>/loop/run/", views.run_trigger_view, name="loop-run"),
    path("projects/<int:project_id>/loop/grade/", views.grade_view, name="loop-grade"),
    path("projects/<int:project_id>/runs/<int:run_id>/", views.run_detail, name="run-detail"),
    path(
        "projects/<int:project_id>/runs/<int:run_id>/retry/",
        views.run_retry_view,
        name="run-retry",
    ),
    path(
        "projects/<int:project_id>/runs/<int:run_id>/cancel/",
        views.run_cancel_view,
        name="run-cancel",
    ),
    path(
        "projects/<int:project_id>/runs/<int:run_id>/stop/",
        views.run_stop_view,
        name="run-stop",
    ),
    path("projects/<int:project_id>/generator/", views.generator_page, name="generator"),
    path(
        "projects/<int:project_id>/generator/run/",
        views.generator_start_view,
        name="generator-run",
    ),
    path(
        "projects/<int:project_id>/generations/",
        views.generations_page,
        name="loop-generations",
    ),
]
