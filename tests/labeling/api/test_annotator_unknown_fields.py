"""The annotator API refuses a field it does not know (labeling/known_fields.py), on the fast
path and on the DRF path alike: a 400 that names the field and where it is, and nothing changes.
Before, a misspelt `ratng` inside a step saved the step unrated and answered 200 (the rating was
silently lost), and a misspelt `reasn` on a give-up was dropped before the missing-reason error.

Each hot-path request is sent with the fast path on and off from the same state
(`test_fast_path.check`): the status, headers and body bytes must be equal."""

import pytest
from rest_framework.test import APIClient

from labeling import phase1_rules, rating_rules
from labeling.known_fields import unknown_fields
from labeling.models import Generation, GenerationItem, Labeling, Role, StepRating
from labeling.services import phase1
from labeling.services.users import user_create
from tests.factories import ProblemFactory, ProjectFactory, SolutionFactory, UserFactory

from .test_fast_path import STEPS, P, check, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def hot_task(db):
    """As test_fast_path's `served`: (project, annotator, token key, a served task's id)."""
    project = ProjectFactory(overlap=1, qc_rate=0)
    generation = Generation.objects.create(project=project, number=0)
    for rank in (1, 2):
        solution = SolutionFactory(problem__project=project, steps=STEPS)
        GenerationItem.objects.create(generation=generation, solution=solution, rank=rank)
    user, token = user_create(username="typo", role=Role.ANNOTATOR, project=project)
    task = token_client(token.key).post("/api/assignments/next/", {}, format="json")
    return project, user, token.key, task.json()["id"]


@pytest.fixture
def phase1_task(db):
    """(client, phase-1 API URL, labeling) of an annotator holding a phase-1 task."""
    project = ProjectFactory(phase1_mode=True, phase1_alternatives=3)
    problem = ProblemFactory(project=project, text="Find $x$.")
    phase1.alternatives_store(problem=problem, prefix=[], texts=["A.", "B.", "C."], source="x")
    phase1.phase1_generation_create(project=project)
    user = UserFactory(role=Role.ANNOTATOR)
    project.members.add(user)
    client = APIClient()
    client.force_authenticate(user)
    task_id = client.post("/api/assignments/next/", {}, format="json").json()["id"]
    return client, f"/api/assignments/{task_id}/phase1/", Labeling.objects.get(pk=task_id)


def snapshot():
    """Everything an annotator's write could change: every labeling's state and the ratings."""
    rows = Labeling.objects.order_by("pk").values_list(
        "pk",
        "status",
        "steps",
        "total_time_ms",
        "draft_revision",
        "finish_reason",
        "reason",
        "lease_expires_at",
        "updated_at",
    )
    return list(rows), StepRating.objects.count()


def refused_both_ways(monkeypatch, send, *, by):
    """`send()` is a 400 the same on both paths, answered by `by`, and changes nothing."""
    before = snapshot()
    body = check(monkeypatch, send, by=by, status=400).json()
    assert send().status_code == 400  # outside the rolled-back savepoints too
    assert snapshot() == before
    return body


@pytest.mark.parametrize(
    ("path", "method", "body", "field"),
    [
        ("next/", "post", {"projcet": 1}, "projcet"),
        ("{task}/draft/", "put", {"steps": [P], "revison": 0}, "revison"),
        ("{task}/draft/", "put", {"total_time_ms": 5, "step": [P]}, "step"),
        ("{task}/submit/", "post", {"finish_reason": "give_up", "reasn": "hard"}, "reasn"),
        ("{task}/submit/", "post", {"finish_reason": "bad_problem", "reason": "x", "y": 1}, "y"),
    ],
)
def test_an_unknown_top_level_field_is_the_serializers_400_on_both_paths(
    monkeypatch, hot_task, path, method, body, field
):
    """Would catch the fast path (or the DRF serializer) dropping an unknown field: a save,
    give up or report of a bad problem answered 200 with the misspelt field lost."""
    _, _, key, task = hot_task
    client = token_client(key)
    url = "/api/assignments/" + path.format(task=task)
    send = lambda: getattr(client, method)(url, body, format="json")  # noqa: E731
    answer = refused_both_ways(monkeypatch, send, by="drf")
    assert answer == {field: ["Unknown field."]}


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"ratng": 1, "flagged": False}], "steps[0].ratng: unknown field"),
        ([P, P, {"rating": 1, "ratin": 1}], "steps[2].ratin: unknown field"),
        ([P, {"rating": 1, "flaged": True, "note": "x"}], "steps[1].flaged: unknown field"),
    ],
)
def test_an_unknown_key_in_a_step_is_a_400_naming_the_step_on_both_paths(
    monkeypatch, hot_task, steps, message
):
    """Would catch `{"ratng": 1}` saving the step unrated with a 200 (the real-world typo that
    lost ratings), or the fast path and the DRF path answering it differently."""
    _, _, key, task = hot_task
    client = token_client(key)
    url = f"/api/assignments/{task}/draft/"
    send = lambda: client.put(url, {"steps": steps, "revision": 0}, format="json")  # noqa: E731
    answer = refused_both_ways(monkeypatch, send, by="fast")
    assert answer == {"detail": message, "errors": []}


def test_what_the_task_page_sends_is_still_accepted(monkeypatch, hot_task):
    """Would catch the rule refusing a field the browser sends (static/js/task-save.js payload,
    task-submit.js submit and next)."""
    project, _, key, task = hot_task
    client = token_client(key)
    url = f"/api/assignments/{task}/"
    steps = [{"rating": 1, "flagged": False}] * len(STEPS)
    save = {"steps": steps, "total_time_ms": 10, "revision": 0}
    check(
        monkeypatch, lambda: client.put(url + "draft/", save, format="json"), by="fast", status=200
    )
    assert client.put(url + "draft/", save, format="json").status_code == 200
    done = {"finish_reason": "solution", "reason": "", "total_time_ms": 20, "revision": 1}
    assert client.post(url + "submit/", done, format="json").status_code == 200
    nxt = {"project": project.pk, "exclude": [task]}
    check(
        monkeypatch,
        lambda: client.post("/api/assignments/next/", nxt, format="json"),
        by="fast",
        status=200,
        ignore_ids=True,
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"steps": [{"ratings": [1]}], "revison": 0}, {"revison": ["Unknown field."]}),
        (
            {"steps": [{"ratings": [1, 0, -1], "chosn": 1}]},
            {"detail": "steps[0].chosn: unknown field", "errors": []},
        ),
        # a stale revision does not turn the client's own mistake into a 409
        (
            {"steps": [{"ratings": [1], "humn": "x"}], "revision": 7},
            {"detail": "steps[0].humn: unknown field", "errors": []},
        ),
    ],
)
def test_phase1_saves_refuse_unknown_fields(phase1_task, body, expected):
    """Would catch a phase-1 save dropping a misspelt `chosn` (the step continued with would be
    lost) or a top-level field, or answering a stale 409 for it."""
    client, url, _ = phase1_task
    before = snapshot()
    response = client.put(url, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json() == expected
    assert snapshot() == before


def test_the_rule_names_the_first_unknown_key_where_it_is():
    """Would catch the step rules accepting a key they do not define."""
    assert unknown_fields({"rating": 1, "flagged": False}, rating_rules.STEP_FIELDS) == []
    assert unknown_fields({"b": 1, "a": 2, "rating": 1}, rating_rules.STEP_FIELDS) == ["a", "b"]
    with pytest.raises(rating_rules.UnknownFieldError, match=r"^steps\[1\]\.ratin: unknown"):
        rating_rules.parse_marks([{"rating": 1}, {"ratin": 1}], 3)
    with pytest.raises(rating_rules.UnknownFieldError, match=r"^steps\[0\]\.shwn: unknown"):
        phase1_rules.parse_positions([{"ratings": [], "shwn": 0}])
    full = {"ratings": [1], "flagged": [False], "chosen": 0, "human": None, "shown": 1}
    assert phase1_rules.parse_positions([full])[0].chosen == 0
