"""Django's error views (handler400/403/404/500 in config/urls.py): under /api/ the answer is
JSON, `{"detail": ...}`, as DRF answers its own errors; every other page keeps the site's
styled error page (templates/400.html ...). They answer what DRF's exception handler does not
see: a URL no route matches (`/api/assignments/abc/`), an exception outside a DRF view or one
DRF passes on (a 500), a suspicious request refused before any view (400; a body over
DATA_UPLOAD_MAX_MEMORY_SIZE is a 413, usually answered earlier by
config.middleware.ApiRequestSizeMiddleware)."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views import defaults

from labeling.json_body import too_large_message

NOT_FOUND = "Not found."
SERVER_ERROR = "Server error"


def is_api(request) -> bool:
    """Whether the request is for the API (its path starts with /api/)."""
    return request.path.startswith("/api/")


def bad_request(request, exception, template_name="400.html"):
    """400 (413 for a body over the size limit) as JSON under /api/, else Django's page."""
    if not is_api(request):
        return defaults.bad_request(request, exception, template_name)
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return JsonResponse({"detail": too_large_message(limit)}, status=413)
    return JsonResponse({"detail": "Bad request."}, status=400)


def permission_denied(request, exception, template_name="403.html"):
    """403 as JSON under /api/, else Django's page."""
    if not is_api(request):
        return defaults.permission_denied(request, exception, template_name)
    return JsonResponse(
        {"detail": "You do not have permission to perform this action."}, status=403
    )


def page_not_found(request, exception, template_name="404.html"):
    """404 `{"detail": "Not found."}` under /api/, else Django's page."""
    if not is_api(request):
        return defaults.page_not_found(request, exception, template_name)
    return JsonResponse({"detail": NOT_FOUND}, status=404)


def server_error(request, template_name="500.html"):
    """500 `{"detail": "Server error"}` under /api/, else Django's page (the error itself is
    logged by Django, with its traceback, before this runs)."""
    if not is_api(request):
        return defaults.server_error(request, template_name)
    return JsonResponse({"detail": SERVER_ERROR}, status=500)
