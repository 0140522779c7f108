from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from labeling.research_auth import ThrottledLoginView

API_DOCS_CSP = csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["blob:"]})

urlpatterns = [
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # OpenAPI 3 schema and its browsable docs (served from the sidecar package: offline)
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI and Redoc build their styles at run time (style elements), so these two pages
    # allow inline styles; scripts stay 'self' only (the CSP in config/settings/base.py).
    path(
        "api/docs/",
        API_DOCS_CSP(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path(
        "api/redoc/",
        API_DOCS_CSP(SpectacularRedocView.as_view(url_name="api-schema")),
        name="api-redoc",
    ),
    path("api/", include("labeling.api_urls")),
    path("", include("labeling.research_urls")),
    path("", include("active_learning.urls")),  # loop pages, its API, /healthz
    path("", include("labeling.urls")),
]

# Errors no view answered: JSON under /api/, the site's pages elsewhere (config/error_views.py)
handler400 = "config.error_views.bad_request"
handler403 = "config.error_views.permission_denied"
handler404 = "config.error_views.page_not_found"
handler500 = "config.error_views.server_error"
