from django.urls import path

from labeling import views

urlpatterns = [
    path("", views.home, name="home"),
    path("projects/<int:project_id>/start/", views.project_start, name="project-start"),
    path("tasks/<int:assignment_id>/", views.task, name="task"),
]
