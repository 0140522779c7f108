"""The API's edges for bad input (a breaker's findings): every answer under /api/ is JSON, a bad
body or query parameter is a 4xx that says what is wrong, nothing changes, never a 500.

On the old code: ~2 KB of nested brackets was a 500 (RecursionError in the JSON parser); a URL
no route matched, a body over DATA_UPLOAD_MAX_MEMORY_SIZE and any 500 were HTML pages (the
body size an ERROR with a traceback in the log); `?is_correct=maybe` and `?page_size=-1` were
silently ignored; a body of `null` or a list was a 200."""

import json

import pytest

from labeling.json_body import MAX_DEPTH, too_deep
from labeling.models import ExportJob, Labeling, Project
from tests.factories import ProjectFactory, SolutionFactory

from .research_helpers import client_for, import_samples, lead

pytestmark = pytest.mark.django_db

TOO_DEEP = {"detail": f"JSON nested too deeply (more than {MAX_DEPTH} levels)"}
NOT_AN_OBJECT = {"detail": "Expected a JSON object."}


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def labeling_state(task_id):
    return Labeling.objects.values("steps", "draft_revision", "total_time_ms").get(pk=task_id)


def test_depth_scan_counts_brackets_outside_strings_only():
    """The scan itself: the limit is inclusive, strings' brackets and escapes do not count."""
    assert not too_deep(nested(MAX_DEPTH).encode())
    assert too_deep(nested(MAX_DEPTH + 1).encode())
    assert too_deep(b'{"a": ' + nested(MAX_DEPTH).encode() + b"}")
    text = json.dumps({"s": "[" * 500 + '\\"{' * 100, "t": [[1], [2]] * 100})
    assert not too_deep(text.encode())
    assert too_deep(b'["\\\\", ' + nested(MAX_DEPTH).encode() + b"]")


@pytest.mark.parametrize(
    "body",
    [nested(1000), '{"steps": ' + nested(1000) + "}", '{"steps": ' + nested(80) + "}"],
)
def test_a_deeply_nested_draft_is_a_400_and_changes_nothing(task, body):
    """Was a 500 (RecursionError) for the 1000-level array; every depth past the limit is now
    refused before parsing, by the fast path and the DRF view alike."""
    client, url, task_id = task
    before = labeling_state(task_id)
    response = client.generic("PUT", url + "draft/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json() == TOO_DEEP
    assert labeling_state(task_id) == before


def test_a_normal_draft_still_saves(task):
    """The limit refuses only what is deeper: a normal draft saves."""
    client, url, _ = task
    body = {"steps": [{"rating": 1, "flagged": False}]}
    response = client.put(url + "draft/", body, format="json")
    assert response.status_code == 200, response.content


def test_deeply_nested_export_filters_are_a_400_and_queue_nothing():
    project = import_samples()
    body = f'{{"project": {project.pk}, "format": "prm800k", "filters": {nested(1000)}}}'
    response = client_for(lead()).generic(
        "POST", "/api/exports/", body, content_type="application/json"
    )
    assert response.status_code == 400 and response.json() == TOO_DEEP
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize("body", ["null", "[]", '"overlap"', "3", "true", nested(2)])
def test_a_body_that_is_not_an_object_is_a_400_and_changes_nothing(body):
    """`PATCH /api/projects/<id>/` with `null` was a 200."""
    project = ProjectFactory(overlap=1)
    response = client_for(lead()).generic(
        "PATCH", f"/api/projects/{project.pk}/", body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert response.json() == NOT_AN_OBJECT
    assert Project.objects.get(pk=project.pk).overlap == 1


@pytest.mark.parametrize("body", ["null", "[]", "[1, 2]", '"x"'])
def test_hot_path_bodies_that_are_not_objects_are_a_400(task, body):
    """The fast path (labeling/api_fast.py) gives them to the DRF parser: the same 400."""
    client, url, task_id = task
    before = labeling_state(task_id)
    for path in (url + "draft/", "/api/assignments/next/"):
        method = "PUT" if path.endswith("draft/") else "POST"
        response = client.generic(method, path, body, content_type="application/json")
        assert response.status_code == 400, (path, response.content)
        assert response.json() == NOT_AN_OBJECT
    assert labeling_state(task_id) == before


@pytest.mark.parametrize(
    "path", ["/api/assignments/-1/", "/api/assignments/abc/", "/api/no-such-thing/"]
)
def test_a_url_no_route_matches_is_a_json_404(path):
    """Was the site's HTML 404 page."""
    response = client_for(lead()).get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_pages_outside_the_api_keep_their_html_error_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_body_over_the_size_limit_is_a_json_413_logged_as_a_warning(task, settings, caplog):
    """Was an HTML 400 "Bad request" (no word of the size) and an ERROR with a traceback."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client, url, task_id = task
    before = labeling_state(task_id)
    body = json.dumps({"steps": [], "total_time_ms": 1, "pad": "x" * 2000})
    response = client.generic("PUT", url + "draft/", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body larger than 1000 bytes"}
    assert labeling_state(task_id) == before
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert any(r.levelname == "WARNING" and "413" in r.getMessage() for r in caplog.records)


def test_an_error_under_the_api_is_a_json_500(monkeypatch):
    """Was the site's HTML 500 page."""
    from labeling import research_api

    def broken(self):
        raise RuntimeError("a bug")

    monkeypatch.setattr(research_api.ProblemViewSet, "get_queryset", broken)
    client = client_for(lead())
    client.raise_request_exception = False
    response = client.get("/api/problems/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Server error"}


BOOLEAN_FILTERS = [
    ("/api/solutions/", "is_correct"),
    ("/api/solutions/", "graded"),
    ("/api/labelings/", "is_quality_control"),
    ("/api/labelings/", "is_screening"),
    ("/api/model-versions/", "is_current"),
]


@pytest.mark.parametrize(("path", "name"), BOOLEAN_FILTERS)
@pytest.mark.parametrize("value", ["maybe", "1", "yes", "TRUE "])
def test_a_bad_boolean_filter_is_a_400_naming_it(path, name, value):
    """`?is_correct=maybe` was a 200 that ignored the filter."""
    response = client_for(lead()).get(path, {name: value})
    assert response.status_code == 400, response.content
    assert response.json() == {name: ["Expected true or false."]}


def test_boolean_filters_still_filter():
    project = ProjectFactory()
    SolutionFactory(problem__project=project, is_correct=True)
    SolutionFactory(problem__project=project, is_correct=False)
    client = client_for(lead())
    for value, count in [("true", 1), ("false", 1), ("", 2)]:
        body = client.get("/api/solutions/", {"project": project.pk, "is_correct": value}).json()
        assert body["count"] == count


LISTS = [
    "/api/solutions/",
    "/api/problems/",
    "/api/labelings/",
    "/api/generations/",
    "/api/model-versions/",
    "/api/exports/",
    "/api/imports/",
]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("value", ["-1", "0", "1001", "abc", "1.5"])
def test_a_bad_page_size_is_a_400_naming_it(path, value):
    """`?page_size=-1` was a 200 with the default page size, 1001 was cut to 1000."""
    response = client_for(lead()).get(path, {"page_size": value})
    assert response.status_code == 400, response.content
    assert response.json() == {"page_size": ["Expected a whole number from 1 to 1000."]}


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("value", ["0", "-1", "abc", "2"])
def test_a_bad_page_is_a_400_naming_it(path, value):
    """Page 0, a page that is no number and one past the last (a list with at most one page
    here) were DRF's 404 "Invalid page."; now a 400 naming `page`."""
    response = client_for(lead()).get(path, {"page": value})
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["page"]


def test_the_loop_runs_list_checks_its_paging_too():
    project = ProjectFactory()
    client = client_for(lead())
    path = f"/api/projects/{project.pk}/runs/"
    assert client.get(path, {"page_size": "-1"}).json() == {
        "page_size": ["Expected a whole number from 1 to 1000."]
    }
    assert list(client.get(path, {"page": "0"}).json()) == ["page"]
    assert client.get(path, {"page": "1", "page_size": "5"}).status_code == 200


def test_good_paging_still_pages():
    import_samples()
    client = client_for(lead())
    first = client.get("/api/labelings/", {"page_size": 5}).json()
    assert len(first["results"]) == 5 and first["next"]
    assert client.get("/api/labelings/", {"page": "last", "page_size": 5}).status_code == 200
    assert client.get("/api/labelings/", {"page": 3, "page_size": 5}).status_code == 200
