"""The hot path's fast edge (labeling/api_fast.py) answers exactly as the DRF views do.

Every request here is sent twice from the same database state (each time in a savepoint that is
rolled back afterwards): once as served now, once with the fast path turned off, so that DRF's
own machinery answers (serializers, exception handler, renderer). The status, every header and
the body's bytes must be equal. Each case also says who must answer it on the fast side: the
fast path (a success, or an application error from the service: wrong user, a stale revision,
a submitted task) or DRF (anything the fast path hands over: bad JSON, wrong types, missing or
null fields, a bad token, a failed CSRF check, an expired session, a browser's Accept).

What it catches: a fast answer that differs from DRF's in any byte (a status, an error body, a
header such as `Allow`, `Vary` or `X-No-Task-Reason`, a 204's Content-Type, U+2028 left
unescaped, a non-ASCII text escaped); a validation rule the fast path applies differently
(it would answer a request DRF refuses, or the reverse); and a fast path that silently stopped
serving the hot requests (the "served by" assertion).
"""

import re

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient
from rest_framework.views import APIView

from labeling.api_fast import HotPathApi
from labeling.models import Generation, GenerationItem, Labeling, LabelingStatus, Role
from labeling.services.users import user_create
from tests.factories import ProjectFactory, SolutionFactory, UserFactory

pytestmark = pytest.mark.django_db

# U+2028 and U+2029 (DRF escapes them), TeX, non-ASCII text
STEPS = ["One $x$ \u2028 étape.", "Two \u2029.", "Three.", "So 3.\n\n# Answer\n\n3"]
P, N = {"rating": 1, "flagged": False}, {"rating": 0, "flagged": False}


@pytest.fixture
def served(db):
    """A project with one served task and one still open; (project, annotator, token key,
    the served task's id)."""
    project = ProjectFactory(overlap=1, qc_rate=0)
    generation = Generation.objects.create(project=project, number=0)
    for rank in (1, 2):
        solution = SolutionFactory(problem__project=project, steps=STEPS)
        GenerationItem.objects.create(generation=generation, solution=solution, rank=rank)
    user, token = user_create(username="fast", role=Role.ANNOTATOR, project=project)
    client = token_client(token.key)
    task = client.post("/api/assignments/next/", {"project": project.pk}, format="json")
    return project, user, token.key, task.json()["id"]


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def both_ways(monkeypatch, send):
    """`send()` answered with the fast path on and off, from the same state; returns the two
    responses and whether DRF's dispatch ran on the fast side."""
    drf_calls = []
    original = APIView.dispatch

    def counted(self, request, *args, **kwargs):
        drf_calls.append(type(self).__name__)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(APIView, "dispatch", counted)
    answers = []
    for enabled in (True, False):
        monkeypatch.setattr(HotPathApi, "fast_path_enabled", enabled)
        with transaction.atomic():
            answers.append(send())
            transaction.set_rollback(True)
        if enabled:
            by_drf = bool(drf_calls)
    return answers[0], answers[1], by_drf


def assert_same(fast, drf, ignore_ids=False):
    def shape(response):
        content = response.content
        if ignore_ids:  # next inserts a labeling: its id differs between the two tries
            content = re.sub(rb'"id":\d+', b'"id":0', content)
        headers = dict(response.headers)
        return response.status_code, headers, content

    assert shape(fast) == shape(drf)


def check(monkeypatch, send, *, by, status, ignore_ids=False, same_body=True):
    fast, drf, by_drf = both_ways(monkeypatch, send)
    if same_body:
        assert_same(fast, drf, ignore_ids)
    else:  # a page with a fresh CSRF token each time
        assert (fast.status_code, fast["Content-Type"]) == (drf.status_code, drf["Content-Type"])
    assert fast.status_code == status, fast.content
    assert by_drf == (by == "drf"), f"expected {by} to answer"
    return fast


# --- successes: served by the fast path --------------------------------------------------------


def test_next_open_draft_and_submit_answer_as_drf(monkeypatch, served):
    """The four hot requests with a token, as scripts and the benchmark send them."""
    project, _, key, task = served
    client = token_client(key)
    url = f"/api/assignments/{task}/"
    check(
        monkeypatch,
        lambda: client.post("/api/assignments/next/", {"project": project.pk}, format="json"),
        by="fast",
        status=200,
    )
    check(
        monkeypatch,
        lambda: client.post("/api/assignments/next/", {}, format="json"),
        by="fast",
        status=200,
    )
    opened = check(monkeypatch, lambda: client.get(url), by="fast", status=200)
    assert b"\\u2028" in opened.content and b"\\u2029" in opened.content
    assert "étape".encode() in opened.content  # not escaped
    for body in (
        {"steps": [P, N], "revision": 0, "total_time_ms": 1200},
        {"steps": [P]},
        {"total_time_ms": 5},
        {"steps": [P], "csrfmiddlewaretoken": "ignored"},
    ):
        check(
            monkeypatch,
            lambda body=body: client.put(url + "draft/", body, format="json"),
            by="fast",
            status=200,
        )
    client.put(url + "draft/", {"steps": [P] * len(STEPS)}, format="json")
    for body in (
        {"finish_reason": "solution"},
        {"finish_reason": "give_up", "reason": "  too hard \u00e9  ", "total_time_ms": 9},
        {"finish_reason": "bad_problem", "reason": "typo", "revision": 1},
    ):
        check(
            monkeypatch,
            lambda body=body: client.post(url + "submit/", body, format="json"),
            by="fast",
            status=200,
        )


def test_next_with_nothing_left_is_the_same_204(monkeypatch, served):
    """A 204 has no body and no Content-Type, and says why in X-No-Task-Reason."""
    project, _, key, task = served
    client = token_client(key)
    client.post(f"/api/assignments/{task}/submit/", {"finish_reason": "give_up", "reason": "x"})
    other = client.post("/api/assignments/next/", {}, format="json").json()["id"]
    client.post(f"/api/assignments/{other}/submit/", {"finish_reason": "give_up", "reason": "x"})
    fast = check(
        monkeypatch,
        lambda: client.post("/api/assignments/next/", {"project": project.pk}, format="json"),
        by="fast",
        status=204,
    )
    assert fast["X-No-Task-Reason"] == "nothing_left"
    assert "Content-Type" not in fast


def test_session_clients_with_the_csrf_token_answer_as_drf(monkeypatch, served):
    """The task page's requests: a login session and the X-CSRFToken header."""
    _, user, _, task = served
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/")  # sets the CSRF cookie
    csrf = client.cookies[settings.CSRF_COOKIE_NAME].value
    url = f"/api/assignments/{task}/"
    headers = {"HTTP_X_CSRFTOKEN": csrf, "HTTP_ACCEPT": "application/json"}
    check(monkeypatch, lambda: client.get(url, **headers), by="fast", status=200)
    check(
        monkeypatch,
        lambda: client.put(
            url + "draft/",
            '{"steps": [{"rating": 1, "flagged": false}]}',
            "application/json",
            **headers,
        ),
        by="fast",
        status=200,
    )
    # without the CSRF header: DRF's 403
    check(
        monkeypatch,
        lambda: client.put(url + "draft/", '{"total_time_ms": 1}', "application/json"),
        by="drf",
        status=403,
    )


# --- application errors from the service: served by the fast path ------------------------------


def test_someone_elses_assignment_is_the_same_404(monkeypatch, served):
    project, _, _, task = served
    _, other = user_create(username="other", role=Role.ANNOTATOR, project=project)
    client = token_client(other.key)
    url = f"/api/assignments/{task}/"
    check(monkeypatch, lambda: client.get(url), by="fast", status=404)
    check(
        monkeypatch,
        lambda: client.put(url + "draft/", {"steps": [P]}, format="json"),
        by="fast",
        status=404,
    )
    check(
        monkeypatch,
        lambda: client.post(url + "submit/", {"finish_reason": "solution"}, format="json"),
        by="fast",
        status=404,
    )
    # not a member of the project
    stranger = UserFactory(role=Role.ANNOTATOR)
    client = APIClient()
    client.force_authenticate(stranger)
    check(
        monkeypatch,
        lambda: client.post("/api/assignments/next/", {"project": project.pk}, format="json"),
        by="fast",
        status=404,
    )


def test_a_stale_revision_is_the_same_409_with_the_stored_draft(monkeypatch, served):
    _, _, key, task = served
    client = token_client(key)
    url = f"/api/assignments/{task}/"
    client.put(url + "draft/", {"steps": [P, P], "revision": 0}, format="json")
    fast = check(
        monkeypatch,
        lambda: client.put(url + "draft/", {"steps": [N], "revision": 0}, format="json"),
        by="fast",
        status=409,
    )
    assert fast.json()["code"] == "stale_draft" and fast.json()["steps"] == [P, P]
    check(
        monkeypatch,
        lambda: client.post(
            url + "submit/",
            {"finish_reason": "give_up", "reason": "x", "revision": 0},
            format="json",
        ),
        by="fast",
        status=409,
    )


def test_rule_errors_of_the_service_are_the_same_400_and_409(monkeypatch, served):
    """Bad marks (the service's rating rules), a finish reason that does not fit the ratings,
    and a second, different submit."""
    _, _, key, task = served
    client = token_client(key)
    url = f"/api/assignments/{task}/"
    for steps in ([{"rating": 7, "flagged": False}], "not a list", [P, P, P, P, P], 3):
        check(
            monkeypatch,
            lambda steps=steps: client.put(url + "draft/", {"steps": steps}, format="json"),
            by="fast",
            status=400,
        )
    check(
        monkeypatch,
        lambda: client.post(url + "submit/", {"finish_reason": "found_error"}, format="json"),
        by="fast",
        status=400,
    )
    client.post(url + "submit/", {"finish_reason": "give_up", "reason": "x"}, format="json")
    assert Labeling.objects.get(pk=task).status == LabelingStatus.SUBMITTED
    check(
        monkeypatch,
        lambda: client.post(url + "submit/", {"finish_reason": "solution"}, format="json"),
        by="fast",
        status=409,
    )
    check(
        monkeypatch,
        lambda: client.put(url + "draft/", {"steps": [P]}, format="json"),
        by="fast",
        status=409,
    )


# --- handed to DRF: its answers, unchanged ------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        # bad JSON, not an object
        ("next/", "post", "{"),
        ("next/", "post", "[1]"),
        ("{task}/draft/", "put", '{"steps": [NaN]}'),
        ("{task}/submit/", "post", '"solution"'),
        ("next/", "post", '\ufeff{"project": 1}'),  # a byte order mark
        ("{task}/submit/", "post", '{"finish_reason": "give_up", "reason": "\\ud800"}'),
        # wrong types
        ("next/", "post", '{"project": true}'),
        ("next/", "post", '{"project": 1.5}'),
        ("next/", "post", '{"project": null}'),
        ("next/", "post", '{"project": 0}'),
        ("next/", "post", '{"exclude": 5}'),
        ("next/", "post", '{"exclude": [1, "x"]}'),
        ("next/", "post", '{"exclude": [' + ",".join(["1"] * 21) + "]}"),
        ("next/", "post", '{"exclude": null}'),
        ("{task}/draft/", "put", '{"steps": null}'),
        ("{task}/draft/", "put", '{"total_time_ms": -1}'),
        ("{task}/draft/", "put", '{"total_time_ms": "five"}'),
        ("{task}/draft/", "put", '{"steps": [], "revision": false}'),
        ("{task}/draft/", "put", '{"steps": [], "revision": 2147483648}'),
        ("{task}/submit/", "post", '{"finish_reason": 1}'),
        ("{task}/submit/", "post", '{"finish_reason": "SOLUTION"}'),
        ("{task}/submit/", "post", '{"finish_reason": "give_up", "reason": [5]}'),
        ("{task}/submit/", "post", '{"finish_reason": "give_up", "reason": "a\\u0000b"}'),
        ("{task}/submit/", "post", '{"finish_reason": "give_up", "reason": "' + "x" * 2001 + '"}'),
        # missing fields
        ("{task}/draft/", "put", "{}"),
        ("{task}/draft/", "put", '{"revision": 1}'),
        ("{task}/submit/", "post", "{}"),
        ("{task}/submit/", "post", '{"reason": "why"}'),
    ],
)
def test_bad_input_gets_drfs_own_400(monkeypatch, served, path, method, body):
    """Every refusal of the serializers (and the parser) stays DRF's, status and body."""
    _, _, key, task = served
    client = token_client(key)
    url = "/api/assignments/" + path.format(task=task)
    check(
        monkeypatch,
        lambda: getattr(client, method)(url, body, content_type="application/json"),
        by="drf",
        status=400,
    )


@pytest.mark.parametrize(
    ("path", "method", "body", "status"),
    [
        ("next/", "post", "", 200),  # an empty body is no input
        # what DRF's own fields would convert is refused by the strict ones
        # (labeling.input_rules), still by DRF: a number in a string, an integral float
        ("next/", "post", '{"project": "{project}"}', 400),
        ("next/", "post", '{"project": {project}.0}', 400),
        ("next/", "post", '{"exclude": [1, "2"]}', 400),
        ("{task}/draft/", "put", '{"total_time_ms": "5"}', 400),
        ("{task}/draft/", "put", '{"steps": [], "revision": "0"}', 400),
    ],
)
def test_input_drf_coerces_gets_drfs_answer(monkeypatch, served, path, method, body, status):
    """Input that DRF's own fields would convert (strings of digits, integral floats) is left
    to the DRF view, whose strict fields refuse it: the same 400 on both paths."""
    project, _, key, task = served
    client = token_client(key)
    url = "/api/assignments/" + path.format(task=task)
    body = body.replace("{project}", str(project.pk))
    check(
        monkeypatch,
        lambda: getattr(client, method)(url, body, content_type="application/json"),
        by="drf",
        status=status,
    )


@pytest.mark.parametrize(
    ("reason", "status", "by"), [(5, 400, "drf"), ("   ", 400, "fast"), ("  why \n", 200, "fast")]
)
def test_submits_reason_is_drfs_own_field(monkeypatch, served, reason, status, by):
    """The fast path checks `reason` with the serializer's own field (trimmed, a JSON string
    only, the text policy): a blank one is then the service's 400, a number DRF's."""
    _, _, key, task = served
    client = token_client(key)
    body = {"finish_reason": "give_up", "reason": reason}
    check(
        monkeypatch,
        lambda: client.post(f"/api/assignments/{task}/submit/", body, format="json"),
        by=by,
        status=status,
    )


def test_bad_input_on_someone_elses_assignment_is_still_404_first(monkeypatch, served):
    project, _, _, task = served
    _, other = user_create(username="other", role=Role.ANNOTATOR, project=project)
    client = token_client(other.key)
    check(
        monkeypatch,
        lambda: client.put(f"/api/assignments/{task}/draft/", {}, format="json"),
        by="drf",
        status=404,
    )


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, 401),
        ("Token", 401),
        ("Token not-a-key", 401),
        ("Token two parts", 401),
        ("Bearer abc", 401),
    ],
)
def test_missing_or_bad_credentials_get_drfs_401(monkeypatch, served, header, status):
    """Including `WWW-Authenticate: Token` (compared with the other headers)."""
    _, _, _, task = served
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    for send in (
        lambda: client.post("/api/assignments/next/", {}, format="json"),
        lambda: client.get(f"/api/assignments/{task}/"),
        lambda: client.put(f"/api/assignments/{task}/draft/", {"steps": [P]}, format="json"),
        lambda: client.post(f"/api/assignments/{task}/submit/", {"finish_reason": "solution"}),
    ):
        fast = check(monkeypatch, send, by="drf", status=status)
        assert fast["WWW-Authenticate"] == "Token"


def test_an_expired_session_is_drfs_401(monkeypatch, served):
    """The session cookie of a session that has expired: anonymous, as DRF says."""
    _, user, _, task = served
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    session = client.session
    session.set_expiry(-1)
    session.save()
    check(monkeypatch, lambda: client.get(f"/api/assignments/{task}/"), by="drf", status=401)


def test_an_inactive_token_user_gets_drfs_401(monkeypatch, served):
    _, user, key, task = served
    user.is_active = False
    user.save()
    client = token_client(key)
    check(monkeypatch, lambda: client.get(f"/api/assignments/{task}/"), by="drf", status=401)


def test_other_media_types_go_to_drf(monkeypatch, served):
    """The browsable API for a browser's Accept, a form-encoded body, another charset."""
    _, _, key, task = served
    client = token_client(key)
    url = f"/api/assignments/{task}/"
    check(
        monkeypatch,
        lambda: client.get(url, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8"),
        by="drf",
        status=200,
        same_body=False,
    )
    check(monkeypatch, lambda: client.post("/api/assignments/next/", {}), by="drf", status=200)
    check(
        monkeypatch,
        lambda: client.put(
            url + "draft/",
            b'{"total_time_ms": 3}',
            content_type="application/json; charset=latin-1",
        ),
        by="drf",
        status=200,
    )
    check(monkeypatch, lambda: client.get(url, HTTP_ACCEPT="application/xml"), by="drf", status=406)
    # a body over DATA_UPLOAD_MAX_MEMORY_SIZE: the same JSON 413 either way, from the size
    # middleware before either path (config.middleware.ApiRequestSizeMiddleware)
    big = {"total_time_ms": 3, "padding": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}
    fast, drf, by_drf = both_ways(
        monkeypatch, lambda: client.put(url + "draft/", big, format="json")
    )
    assert_same(fast, drf)
    assert fast.status_code == 413 and not by_drf
    # nested deeper than the API's limit: the fast path leaves it to the DRF parser's 400
    deep = '{"steps": ' + "[" * 100 + "]" * 100 + "}"
    check(
        monkeypatch,
        lambda: client.put(url + "draft/", deep, content_type="application/json"),
        by="drf",
        status=400,
    )


# --- opening a task: one prepared read on PostgreSQL (selectors.assignment_to_open) -------------


def _view_both_ways(user, task):
    from labeling import selectors

    fast = selectors.assignment_view(selectors.assignment_to_open(user, task))
    orm = selectors.assignment_view(selectors.assignment_for_user(user, task))
    return fast, orm


def test_the_open_read_shows_what_the_orm_read_shows(served):
    """Draft with marks, submitted with a reason and time, and without a generation (a QC or
    screening labeling has none): the view of the task is the same from both reads."""
    from labeling import selectors

    _, user, key, task = served
    client = token_client(key)
    body = {"steps": [P, N], "total_time_ms": 7}
    client.put(f"/api/assignments/{task}/draft/", body, format="json")
    fast, orm = _view_both_ways(user, task)
    assert fast == orm and fast["draft"]["steps"] == [P, N]
    assert fast["problem"]["text"] and fast["steps"] == STEPS and fast["generation"] == 0
    body = {"finish_reason": "give_up", "reason": "é"}
    client.post(f"/api/assignments/{task}/submit/", body, format="json")
    fast, orm = _view_both_ways(user, task)
    assert fast == orm and fast["status"] == "submitted" and fast["draft"]["reason"] == "é"
    Labeling.objects.filter(pk=task).update(generation=None)
    fast, orm = _view_both_ways(user, task)
    assert fast == orm and fast["generation"] is None
    with pytest.raises(selectors.NotFound):
        selectors.assignment_to_open(UserFactory(), task)
    Labeling.objects.filter(pk=task).update(status=LabelingStatus.ABANDONED)
    fast, orm = _view_both_ways(user, task)
    assert fast == orm and fast["status"] == "abandoned"


def test_opening_renews_an_older_lease_and_takes_back_an_expired_one(served):
    """The lease paths of assignment_open on the labeling the open read built: a lease set more
    than a minute ago is renewed; an expired one whose slot is still free is taken back."""
    from datetime import timedelta

    from django.utils import timezone

    project, _, key, task = served
    client = token_client(key)
    url = f"/api/assignments/{task}/"
    older = timezone.now() + timedelta(minutes=project.lease_minutes - 5)
    Labeling.objects.filter(pk=task).update(lease_expires_at=older)
    assert client.get(url).status_code == 200
    renewed = Labeling.objects.get(pk=task).lease_expires_at
    assert renewed > older + timedelta(minutes=4)
    Labeling.objects.filter(pk=task).update(lease_expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get(url)
    assert response.status_code == 200 and response.json()["status"] == "draft"
    assert Labeling.objects.get(pk=task).lease_expires_at > timezone.now()
