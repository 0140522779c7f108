from django.urls import path

from labeling import views

urlpatterns = [
    path("", views.home, name="home"),
    path("projects/<int:project_id>/start/", views.project_start, name="project-start"),
    path("tasks/<int:assignment_id>/", views.task, name="task"),
    path("projects/<int:project_id>/queue/", views.project_queue, name="project-queue"),
    path("projects/<int:project_id>/stats/", views.project_dashboard, name="project-dashboard"),
    path("projects/<int:project_id>/settings/", views.project_settings, name="project-settings"),
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
