from django.urls import path

from labeling import research_views

urlpatterns = [
    path("projects/<int:project_id>/data/", research_views.project_data, name="project-data"),
    path("account/tokens/", research_views.tokens, name="tokens"),
    path("account/tokens/<int:token_id>/revoke/", research_views.token_revoke, name="token-revoke"),
]
