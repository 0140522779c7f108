"""A fast path through the labeling hot path's API views (next, open, draft save, submit), which
answer most of the platform's requests (issue 15, point 2).

A DRF request spends as much CPU in DRF's own machinery (wrapping the request, content
negotiation, the parser chain, authentication and permission classes, serializer copies, the
renderer) as in the view's statements; docs/benchmarks.md measures it. `HotPathApi` is still the
DRF view (its URL, its OpenAPI description, its answers), but it first tries to serve the
request itself, and serves it only when the request is the ordinary case:

- the method the view's fast path handles (`fast_method`); JSON asked for (`Accept` absent,
  `*/*` or `application/json`; anything else, e.g. a browser's `text/html` for the browsable
  API, goes to DRF);
- a body, when the method has one, of type `application/json` (UTF-8), no larger than
  DATA_UPLOAD_MAX_MEMORY_SIZE, nested no deeper than the API's limit (`too_deep`, the check of
  labeling/json_body.py's parser), that parses as a JSON object (`orjson`);
- a caller whom DRF would authenticate in the same way: a well-formed `Authorization: Token`
  header whose key `ApiTokenAuthentication` accepts, or, without an `Authorization` header, a
  logged-in active session user whose request passes DRF's CSRF check (SessionAuthentication's
  own `enforce_csrf`), or the test client's forced user (DRF's own test hook);
- no top-level field its DRF serializer (a `KnownFieldsSerializer`) does not know (an unknown
  one goes to DRF, whose 400 names it: one rule, labeling/known_fields.py, one error body);
- input that the view's `fast` method finds valid by the same rules as its DRF serializer
  (exact types only: an integer sent as a string, a null, a bool where an integer is expected
  ... all go to DRF). Unknown keys inside `steps` are refused by the service both paths call
  (`labeling.rating_rules.parse_marks`).

Anything else — a missing or bad credential, a failed CSRF check, bad JSON, invalid input —
goes to the unchanged DRF view (`APIView.dispatch`), which answers as it always has (401/403
with DRF's body and `WWW-Authenticate`, 400 with the serializer's errors, the 404-first
ownership check). The fast path answers only successes and the services' `ApplicationError`s
(404, 409 with a stale draft, 400), rendered as `labeling.error_edges.api_exception_handler`
renders them. Its answers are byte-for-byte DRF's: `application/json` bodies rendered compact
with non-ASCII kept and U+2028/U+2029 escaped (DRF's JSONRenderer), the `Allow` and
`Vary: Accept` headers, a 204 without a Content-Type; tests/labeling/api/test_fast_path.py sends
each request both ways and compares them. The middleware stack (sessions, CSRF cookie,
security headers, CSP, the database-unavailable 503) is the same for both paths.
"""

import orjson
from django.conf import settings
from django.http import HttpResponse
from django.utils.cache import patch_vary_headers
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.views import APIView

from labeling.errors import ApplicationError, error_body, http_status
from labeling.json_body import too_deep
from labeling.known_fields import unknown_fields
from labeling.research_auth import ApiTokenAuthentication

# the Accept headers whose answer DRF's content negotiation renders with its JSONRenderer
JSON_ACCEPTS = frozenset({"", "*/*", "application/json"})
JSON_CONTENT_TYPES = frozenset({"application/json", "application/json; charset=utf-8"})

_token_authentication = ApiTokenAuthentication()
_session_authentication = SessionAuthentication()


class Fallback(Exception):
    """The request is not one the fast path serves; the DRF view answers it."""


def valid_int(data: dict, name: str, low: int, high: int, *, required: bool = False):
    """`data[name]` when it is an int (not a bool) in [low, high]; None when absent and not
    required. Raises Fallback otherwise (DRF's IntegerField says what is wrong)."""
    value = data.get(name)
    if value is None:
        if name in data or required:  # a null: DRF's "may not be null"
            raise Fallback
        return None
    if type(value) is not int or not low <= value <= high:
        raise Fallback
    return value


def json_response(view: APIView, data, status: int = 200) -> HttpResponse:
    """`data` rendered as DRF's JSONRenderer and APIView.finalize_response render it (None: an
    empty body without a Content-Type, as DRF answers a 204)."""
    if data is None:
        response = HttpResponse(status=status)
        del response["Content-Type"]
    else:
        content = orjson.dumps(data)
        if b"\xe2\x80\xa8" in content or b"\xe2\x80\xa9" in content:
            content = content.replace(b"\xe2\x80\xa8", b"\\u2028").replace(
                b"\xe2\x80\xa9", b"\\u2029"
            )
        response = HttpResponse(content, status=status, content_type="application/json")
    response.data = data  # as on DRF's Response (tests read it)
    response["Allow"] = view.allow_header()
    patch_vary_headers(response, ["Accept"])
    return response


def _caller(request):
    """The user DRF would authenticate for this request with the same result, or None when
    DRF should decide (no credentials, bad ones, a failed CSRF check)."""
    forced_user = getattr(request, "_force_auth_user", None)  # DRF's test client's hook
    if forced_user is not None or getattr(request, "_force_auth_token", None) is not None:
        return forced_user
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is not None:
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != "token":
            return None
        try:
            found = _token_authentication.authenticate(request)
        except AuthenticationFailed:
            return None
        return found[0] if found is not None else None
    user = getattr(request, "user", None)
    if user is None or not user.is_active:
        return None
    try:
        _session_authentication.enforce_csrf(request)
    except PermissionDenied:
        return None
    return user


class HotPathApi(APIView):
    """A DRF view with a fast path (see the module docstring). Subclasses set `fast_method` and
    implement `fast(request, user, data, **kwargs)`: `data` is the parsed JSON object (None for
    a GET); return a response made with `json_response`, or raise Fallback. A subclass whose
    method has a body declares its input as `InputSerializer`, a KnownFieldsSerializer."""

    fast_method = "POST"
    # tests turn it off to compare the answers with the DRF view's own
    fast_path_enabled = True
    _allow: str | None = None

    def allow_header(self) -> str:
        """DRF's `Allow` header of this view (HEAD included once `as_view` set the view up)."""
        cls = type(self)
        if cls._allow is None:
            cls._allow = ", ".join(self.allowed_methods)
        return cls._allow

    def dispatch(self, request, *args, **kwargs):
        if self.fast_path_enabled and request.method == self.fast_method:
            try:
                return self._fast(request, kwargs)
            except Fallback:
                pass
        return super().dispatch(request, *args, **kwargs)

    def _fast(self, request, kwargs) -> HttpResponse:
        meta = request.META
        if meta.get("HTTP_ACCEPT", "").strip() not in JSON_ACCEPTS:
            raise Fallback
        data = None
        if self.fast_method != "GET":
            if meta.get("CONTENT_TYPE", "").lower() not in JSON_CONTENT_TYPES:
                raise Fallback
            # request.body refuses a body over this size (DRF's parser reads the stream instead)
            length = meta.get("CONTENT_LENGTH") or "0"
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if not length.isdigit() or (limit is not None and int(length) > limit):
                raise Fallback
            body = request.body
            if too_deep(body):
                raise Fallback  # JsonObjectParser's 400 (labeling/json_body.py)
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise Fallback from None
            if type(data) is not dict:
                raise Fallback
            if unknown_fields(data, self.InputSerializer.known_fields()):
                raise Fallback  # the serializer's 400 naming it (labeling/known_fields.py)
        user = _caller(request)
        if user is None or not user.is_authenticated:
            raise Fallback
        request.user = user  # as DRF's Request sets it on the request it wraps
        try:
            return self.fast(request, user, data, **kwargs)
        except ApplicationError as exc:  # as labeling.error_edges.api_exception_handler
            return json_response(self, error_body(exc), http_status(exc))

    def fast(self, request, user, data, **kwargs) -> HttpResponse:
        raise NotImplementedError
