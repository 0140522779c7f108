"""One edge for errors (labeling/error_edges.py): an ApplicationError gets the same status from
the API, from a page and from the loop's API, taken from labeling.errors.http_status.

On the old code each API module had its own mapping and they disagreed: deleting a running
export was a 400 (a plain ApplicationError) while downloading it was a 409."""

import pytest
from django.http import Http404
from django.test import RequestFactory
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from labeling.error_edges import ApplicationErrorMiddleware, api_exception_handler
from labeling.errors import ApplicationError, Conflict, NotFound, http_status
from labeling.models import ExportJob, JobStatus
from tests.factories import UserFactory

from .api.research_helpers import client_for, import_samples, researcher

ERRORS = [
    (ApplicationError("bad"), 400),
    (Conflict("busy"), 409),
    (NotFound("gone"), 404),
]


def _html_status(error) -> int:
    middleware = ApplicationErrorMiddleware(lambda request: None)
    request = RequestFactory().get("/somewhere/")
    request.user = UserFactory.build()
    try:
        return middleware.process_exception(request, error).status_code
    except Http404:
        return 404


def _loop_api_status(error) -> int:
    # the loop's API view (active_learning/api.py): DRF's handle_exception, the configured handler
    from active_learning.api import LoopApi

    view = LoopApi()
    view.request = Request(APIRequestFactory().get("/api/"))
    view.args, view.kwargs, view.format_kwarg = (), {}, None
    return view.handle_exception(error).status_code


@pytest.mark.django_db
@pytest.mark.parametrize(("error", "expected"), ERRORS, ids=lambda e: type(e).__name__)
def test_every_edge_gives_an_error_the_same_status(error, expected):
    assert http_status(error) == expected
    assert api_exception_handler(error, {}).status_code == expected
    assert _html_status(error) == expected
    assert _loop_api_status(error) == expected


def test_the_api_body_carries_message_details_and_a_conflicts_data():
    error = Conflict("stale", details=["a"])
    error.data = {"draft": {"revision": 3}}
    response = api_exception_handler(error, {})
    assert response.data == {"detail": "stale", "errors": ["a"], "draft": {"revision": 3}}


@pytest.mark.django_db
def test_a_running_export_is_409_on_download_and_on_delete(settings, tmp_path):
    # the example: the same state was 409 on download and 400 on delete
    settings.JOBS_DIR = tmp_path / "jobs"
    project = import_samples()
    client = client_for(researcher(project))
    job = client.post("/api/exports/", {"project": project.pk, "format": "prm800k"}, format="json")
    ExportJob.objects.filter(pk=job.json()["id"]).update(status=JobStatus.RUNNING)
    download = client.get(f"/api/exports/{job.json()['id']}/download/")
    delete = client.delete(f"/api/exports/{job.json()['id']}/")
    assert download.status_code == delete.status_code == 409
    assert "running" in delete.json()["detail"]
    assert ExportJob.objects.filter(pk=job.json()["id"]).exists()
