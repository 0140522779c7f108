"""Answers for when the database is away: 503 with `Retry-After`, not a 500 (and, at the end,
django-csp's middleware with the settings' policy built once: SettingsPolicyCSPMiddleware).

A PostgreSQL restart (or failover, or a full connection limit) makes every query fail for a few
seconds with `OperationalError` (connection refused, "terminating connection due to
administrator command", "the database system is starting up"), or `InterfaceError` on a
connection that died in between. Those are not bugs in the request: the same request succeeds
once the database is back, so the client is told to retry (`Retry-After`), and a script or the
task page's save queue does. The transaction of the failed request was rolled back (nothing of
it was stored), so retrying never doubles anything. Any other error stays a 500.
"""

import logging

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.signals import setting_changed
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse

from labeling.json_body import too_large_message

logger = logging.getLogger(__name__)

MESSAGE = "The database is unavailable for a moment. Nothing was saved; please retry."


class DatabaseUnavailableMiddleware:
    """Turns a view's (or its template's) database connection error into 503 + Retry-After:
    JSON `{"detail": ...}` for the API, a short page otherwise."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning(
            "database unavailable (%s: %s) on %s %s: answering 503",
            type(exception).__name__,
            str(exception).strip().splitlines()[0] if str(exception).strip() else "",
            request.method,
            request.path,
        )
        if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
            response = JsonResponse({"detail": MESSAGE}, status=503)
        else:
            response = HttpResponse(
                f"<!doctype html><title>Unavailable</title><h1>Back in a moment</h1><p>{MESSAGE}",
                status=503,
                content_type="text/html; charset=utf-8",
            )
        response["Retry-After"] = str(settings.DATABASE_UNAVAILABLE_RETRY_AFTER)
        return response


class ApiRequestSizeMiddleware:
    """A request to /api/ whose body is over DATA_UPLOAD_MAX_MEMORY_SIZE: 413 JSON
    `{"detail": "Request body larger than N bytes"}`, logged as a warning, before anything
    reads the body (Content-Length), or when a view's read of it raises RequestDataTooBig.
    Multipart bodies (uploaded import files) are left to Django, which counts only their
    non-file fields against the limit. Without it Django answered an HTML 400 "Bad request"
    and logged an ERROR with a traceback."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and request.path.startswith("/api/"):
            length = request.META.get("CONTENT_LENGTH") or ""
            if (
                length.isdigit()
                and int(length) > limit
                and not request.META.get("CONTENT_TYPE", "").startswith("multipart/")
            ):
                return self._too_large(request, limit, length)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, RequestDataTooBig) or not request.path.startswith("/api/"):
            return None
        length = request.META.get("CONTENT_LENGTH") or "?"
        return self._too_large(request, settings.DATA_UPLOAD_MAX_MEMORY_SIZE, length)

    @staticmethod
    def _too_large(request, limit: int, length: str) -> JsonResponse:
        logger.warning(
            "request body of %s bytes over DATA_UPLOAD_MAX_MEMORY_SIZE (%s) on %s %s: 413",
            length,
            limit,
            request.method,
            request.path,
        )
        return JsonResponse({"detail": too_large_message(limit)}, status=413)


class SettingsPolicyCSPMiddleware(CSPMiddleware):
    """django-csp's CSPMiddleware, with the policy that comes from settings alone built once.

    django-csp builds the Content-Security-Policy header again for every response (merging the
    directives with its defaults, copying and joining them): on the labeling hot path's API
    calls that was the costliest middleware (docs/benchmarks.md, issue 15). A response whose
    policy is the settings' own (no `csp_update`/`csp_replace`/`csp_exempt` decorator on its
    view, no nonce used while rendering it, not a DEBUG error page) gets the same two headers
    from a per-process cache, emptied whenever a CONTENT_SECURITY_POLICY setting changes (tests'
    override_settings); every other response goes through django-csp unchanged.
    """

    _built: dict[bool, str] = {}

    def process_response(self, request, response):
        if (
            settings.DEBUG
            or getattr(request, "_csp_nonce", None) is not None
            or HEADER in response
            or HEADER_REPORT_ONLY in response
            or any(hasattr(response, name) for name in _PER_RESPONSE_POLICY)
        ):
            return super().process_response(request, response)
        path = request.path_info
        for report_only, header in ((False, HEADER), (True, HEADER_REPORT_ONLY)):
            policy = self._built.get(report_only)
            if policy is None:
                policy = self._built[report_only] = build_policy(report_only=report_only)
            if policy and not path.startswith(_excluded_prefixes(report_only)):
                response[header] = policy
        # as django-csp: a nonce asked for after the header was written is an error
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response


# what a view's django-csp decorators set on its response
_PER_RESPONSE_POLICY = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_exempt",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
    "_csp_exempt_ro",
)


def _excluded_prefixes(report_only: bool) -> tuple:
    name = "CONTENT_SECURITY_POLICY_REPORT_ONLY" if report_only else "CONTENT_SECURITY_POLICY"
    policy = getattr(settings, name, None) or {}
    return tuple(policy.get("EXCLUDE_URL_PREFIXES", None) or ())


@receiver(setting_changed)
def _policy_setting_changed(*, setting, **kwargs):
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        SettingsPolicyCSPMiddleware._built.clear()
