"""The edges where an ApplicationError (labeling/errors.py) leaves the code: one DRF exception
handler for every API view (settings REST_FRAMEWORK["EXCEPTION_HANDLER"]) and one middleware
for the HTML pages. Both take the status from `labeling.errors.http_status`, so a state answers
the same status from the API and from a page (e.g. a running export: 409 on download and on
delete). Views still catch an ApplicationError where they show it in a form or a message; an
uncaught one ends here instead of as a 500."""

from django.http import Http404
from django.shortcuts import render
from rest_framework.response import Response
from rest_framework.views import exception_handler

from labeling.errors import ApplicationError, NotFound, error_body, http_status

TITLES = {400: "The request was refused", 409: "Not possible right now"}


def api_exception_handler(exc, context):
    """DRF's handler, plus: ApplicationError -> `error_body` with `http_status` (404, 409, 400)."""
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc), status=http_status(exc))
    return exception_handler(exc, context)


class ApplicationErrorMiddleware:
    """An ApplicationError raised by an HTML view becomes a page with `http_status`: NotFound
    the site's 404 page (404.html), others an error page naming the message."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, ApplicationError):
            return None
        if isinstance(exception, NotFound):
            raise Http404(exception.message)
        code = http_status(exception)
        return render(
            request,
            "errors/application.html",
            {"code": code, "title": TITLES[code], "detail": exception.message},
            status=code,
        )
