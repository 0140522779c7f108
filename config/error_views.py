"""Django's error views (handler400/403/404/500 in config/urls.py): under /api/ the answer is
JSON, `{"detail": ...}`, as DRF answers its own errors; every other page keeps the site's
styled error page (templates/400.html ...). They answer what DRF's exception handler does not
see: a URL no route matches (`/api/assignments/abc/`), an exception outside a DRF view or one
DRF passes on (a 500), a suspicious request refused before any view (400; a body over
DATA_UPLOAD_MAX_MEMORY_SIZE is a 413, usually answered earlier by
config.middleware.ApiRequestSizeMiddleware). Also here: the CSRF failure view
(CSRF_FAILURE_VIEW) and MethodNotAllowedPageMiddleware, which gives the empty 405 of
`require_POST` (and View.http_method_not_allowed) a styled page outside /api/."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.shortcuts import render
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


CSRF_FAILED = "The form expired or was sent from another page. Reload the page and try again."


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a form sent without a valid CSRF token (an old tab, a cleared cookie)
    is a 403; under /api/ JSON `{"detail": "CSRF Failed: <reason>"}` as DRF words it, else the
    styled page templates/403_csrf.html (Django's own was an unstyled "403 Forbidden")."""
    if is_api(request):
        return JsonResponse({"detail": f"CSRF Failed: {reason}"}, status=403)
    return render(request, "403_csrf.html", {"detail": CSRF_FAILED}, status=403)


class MethodNotAllowedPageMiddleware:
    """A 405 with an empty body (require_POST, View.http_method_not_allowed: a GET on a URL
    that only takes a form) becomes the styled page templates/405.html, keeping the status and
    the Allow header; /api/ answers (DRF's JSON) and a request that asks for JSON, not HTML,
    are left as they are."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 405 or response.streaming or response.content:
            return response
        accept = request.headers.get("Accept", "")
        if is_api(request) or ("json" in accept and "html" not in accept):
            return response
        allowed = response.get("Allow", "")
        detail = f"It takes {allowed} only." if allowed else ""
        page = render(request, "405.html", {"detail": detail}, status=405)
        if allowed:
            page["Allow"] = allowed
        return page
