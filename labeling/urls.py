from django.urls import path

from labeling import adjudication_views, docs_views, phase1_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("docs/<str:name>/", docs_views.docs_page, name="docs-page"),
    path(
        "projects/<int:project_id>/solutions/<int:solution_id>/adjudicate/",
        adjudication_views.solution_adjudicate,
        name="solution-adjudicate",
    ),
    path("projects/new/", views.project_create_view, name="project-create"),
    path("projects/<int:project_id>/start/", views.project_start, name="project-start"),
    path("projects/<int:project_id>/members/", views.project_members, name="project-members"),
    path(
        "projects/<int:project_id>/members/<int:membership_id>/remove/",
        views.membership_remove_view,
        name="membership-remove",
    ),
    path("tasks/<int:assignment_id>/", views.task, name="task"),
    path("session/", views.session_state, name="session-state"),
    path("projects/<int:project_id>/queue/", views.project_queue, name="project-queue"),
    path("projects/<int:project_id>/stats/", views.project_dashboard, name="project-dashboard"),
    path("projects/<int:project_id>/settings/", views.project_settings, name="project-settings"),
    path("projects/<int:project_id>/phase1/", phase1_views.phase1_queue, name="phase1-queue"),
    path(
        "projects/<int:project_id>/leases/<int:labeling_id>/release/",
        views.lease_release_view,
        name="lease-release",
    ),
    path(
        "projects/<int:project_id>/members/<int:membership_id>/resume/",
        views.membership_resume_view,
        name="membership-resume",
    ),
]
