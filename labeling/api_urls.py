from django.urls import path

from labeling import api

urlpatterns = [
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
