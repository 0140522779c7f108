"""The labeling API over HTTP: next, detail, draft, submit; access rules; idempotent submit."""

import json

import pytest
from rest_framework.test import APIClient

from labeling.models import Generation, GenerationItem, Labeling, LabelingStatus, Role, StepRating
from labeling.services.prm800k_export import labeling_line
from tests.factories import (
    LabelingFactory,
    ProjectFactory,
    SolutionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

STEPS = ["Let $x = 2$.", "Then $x + 1 = 3$.", "So the answer is 3.\n\n# Answer\n\n3"]


@pytest.fixture
def project():
    project = ProjectFactory()
    generation = Generation.objects.create(project=project, number=0)
    for rank, steps in enumerate([STEPS, ["Other.", "# Answer\n\n4"]], start=1):
        solution = SolutionFactory(problem__project=project, steps=steps)
        GenerationItem.objects.create(generation=generation, solution=solution, rank=rank)
    return project


@pytest.fixture
def annotator(project):
    user = UserFactory(role=Role.ANNOTATOR)
    project.members.add(user)
    return user


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def next_task(client, **body):
    return client.post("/api/assignments/next/", body, format="json")


def test_next_serves_the_first_solution_of_the_current_generation(project, annotator):
    client = client_for(annotator)
    response = next_task(client)
    assert response.status_code == 200
    first = GenerationItem.objects.get(rank=1).solution_id
    assert response.json() == {"id": response.json()["id"], "solution": first, "kind": "task"}
    # asking again resumes the same unfinished assignment
    assert next_task(client, project=project.pk).json()["id"] == response.json()["id"]


def test_next_is_204_when_everything_is_labeled(project, annotator):
    client = client_for(annotator)
    for _ in range(2):
        task = next_task(client).json()
        client.put(f"/api/assignments/{task['id']}/draft/", {"steps": []}, format="json")
        client.post(
            f"/api/assignments/{task['id']}/submit/",
            {"finish_reason": "give_up", "reason": "too hard"},
            format="json",
        )
    response = next_task(client)
    assert response.status_code == 204
    assert response.content == b""


def test_next_in_a_project_the_user_is_not_in_is_404(project):
    outsider = UserFactory()
    assert next_task(client_for(outsider), project=project.pk).status_code == 404
    assert next_task(client_for(outsider)).status_code == 204  # no project at all


def test_detail_shows_problem_answer_steps_and_own_draft_only(project, annotator):
    client = client_for(annotator)
    task = next_task(client).json()
    client.put(
        f"/api/assignments/{task['id']}/draft/",
        {"steps": [{"rating": 1, "flagged": True}], "total_time_ms": 1234},
        format="json",
    )
    body = client.get(f"/api/assignments/{task['id']}/").json()
    assert body["steps"] == STEPS
    assert body["problem"]["reference_answer"] == "2"
    assert body["draft"] == {
        "steps": [{"rating": 1, "flagged": True}],
        "total_time_ms": 1234,
        "revision": 1,
        "finish_reason": None,
        "reason": "",
    }
    assert "reference_solution" not in json.dumps(body)


def test_gold_and_other_labelers_ratings_never_reach_the_annotator(project, annotator):
    solution = GenerationItem.objects.get(rank=1).solution
    gold = LabelingFactory(solution=solution, is_quality_control=True)
    gold.steps[0]["completions"][0]["text"] = "GOLD-MARKER"
    gold.save()
    other = LabelingFactory(solution=solution)
    client = client_for(annotator)
    task = next_task(client).json()
    body = json.dumps(client.get(f"/api/assignments/{task['id']}/").json())
    assert "GOLD-MARKER" not in body
    # and the other labelings are not reachable by id
    for labeling in (gold, other):
        assert client.get(f"/api/assignments/{labeling.pk}/").status_code == 404


def test_someone_elses_assignment_is_404_for_read_draft_and_submit(project, annotator):
    task = next_task(client_for(annotator)).json()
    for role in (Role.ANNOTATOR, Role.LEAD, Role.RESEARCHER):
        intruder = client_for(UserFactory(role=role))
        base = f"/api/assignments/{task['id']}/"
        assert intruder.get(base).status_code == 404
        assert intruder.put(base + "draft/", {"steps": []}, format="json").status_code == 404
        response = intruder.post(
            base + "submit/", {"finish_reason": "give_up", "reason": "x"}, format="json"
        )
        assert response.status_code == 404
    assert Labeling.objects.get(pk=task["id"]).status == LabelingStatus.DRAFT


def test_anonymous_requests_are_refused(project):
    assert APIClient().post("/api/assignments/next/").status_code in (401, 403)


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"rating": 2, "flagged": False}], "steps[0].rating: must be -1, 0, 1 or null"),
        ([{"rating": None}, {"rating": 1}], "steps[1]: rated or flagged after unrated step 0"),
        ([{"rating": -1}, {"rating": 1}], "steps[1]: rated after the Negative step 0"),
        ([{"rating": 1}] * 4, "4 given but the solution has 3"),
        ([{"rating": 1, "flagged": "yes"}], "steps[0].flagged: must be true or false"),
        ("all good", "steps: must be a list"),
        # JSON's 1.0 equals 1 in Python: it was stored as a float, and the submit then failed
        # with a 500 (the ratings could not be written)
        ([{"rating": 1.0, "flagged": False}], "steps[0].rating: must be -1, 0, 1 or null"),
    ],
)
def test_bad_drafts_are_400_with_the_step_and_change_nothing(project, annotator, steps, message):
    client = client_for(annotator)
    task = next_task(client).json()
    client.put(f"/api/assignments/{task['id']}/draft/", {"steps": [{"rating": 0}]}, format="json")
    response = client.put(f"/api/assignments/{task['id']}/draft/", {"steps": steps}, format="json")
    assert response.status_code == 400
    assert message in json.dumps(response.json())
    draft = client.get(f"/api/assignments/{task['id']}/").json()["draft"]
    assert draft["steps"] == [{"rating": 0, "flagged": False}]


def test_found_error_submit_exports_the_prm800k_record(project, annotator):
    client = client_for(annotator)
    task = next_task(client).json()
    url = f"/api/assignments/{task['id']}/"
    client.put(
        url + "draft/",
        {
            "steps": [{"rating": 1, "flagged": False}, {"rating": -1, "flagged": True}],
            "total_time_ms": 5000,
        },
        format="json",
    )
    wrong = client.post(url + "submit/", {"finish_reason": "solution"}, format="json")
    assert wrong.status_code == 400 and "solution needs every step rated" in json.dumps(
        wrong.json()
    )
    response = client.post(
        url + "submit/", {"finish_reason": "found_error", "total_time_ms": 6100}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "submitted"
    labeling = Labeling.objects.get(pk=task["id"])
    record = json.loads(labeling_line(labeling))
    assert record["labeler"] == str(annotator.labeler_uuid)
    assert record["generation"] == 0
    assert record["label"]["finish_reason"] == "found_error"
    assert record["label"]["total_time"] == 6100
    assert record["question"]["pre_generated_steps"] == STEPS
    assert record["label"]["steps"] == [
        {
            "completions": [{"text": STEPS[0], "rating": 1, "flagged": False}],
            "human_completion": None,
            "chosen_completion": 0,
        },
        {
            "completions": [{"text": STEPS[1], "rating": -1, "flagged": True}],
            "human_completion": None,
            "chosen_completion": None,
        },
    ]
    assert list(
        StepRating.objects.filter(labeling=labeling)
        .values_list("rating", flat=True)
        .order_by("step_index")
    ) == [1, -1]


def test_submit_is_idempotent_and_a_different_second_submit_is_409(project, annotator):
    client = client_for(annotator)
    task = next_task(client).json()
    url = f"/api/assignments/{task['id']}/"
    client.put(
        url + "draft/", {"steps": [{"rating": 1}, {"rating": 0}, {"rating": 1}]}, format="json"
    )
    first = client.post(url + "submit/", {"finish_reason": "solution"}, format="json")
    again = client.post(url + "submit/", {"finish_reason": "solution"}, format="json")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert Labeling.objects.filter(labeler=annotator, status="submitted").count() == 1
    other = client.post(url + "submit/", {"finish_reason": "give_up", "reason": "x"}, format="json")
    assert other.status_code == 409
    late = client.put(url + "draft/", {"steps": []}, format="json")
    assert late.status_code == 409
    assert Labeling.objects.get(pk=task["id"]).finish_reason == "solution"


def test_give_up_and_bad_problem_need_a_reason(project, annotator):
    client = client_for(annotator)
    task = next_task(client).json()
    url = f"/api/assignments/{task['id']}/submit/"
    for reason in ("give_up", "bad_problem"):
        response = client.post(url, {"finish_reason": reason, "reason": "  "}, format="json")
        assert response.status_code == 400
        assert "needs a short reason" in json.dumps(response.json())
    response = client.post(
        url, {"finish_reason": "bad_problem", "reason": "typo in the problem"}, format="json"
    )
    assert response.status_code == 200
    assert Labeling.objects.get(pk=task["id"]).reason == "typo in the problem"


def test_time_never_goes_backwards(project, annotator):
    client = client_for(annotator)
    task = next_task(client).json()
    url = f"/api/assignments/{task['id']}/draft/"
    client.put(url, {"steps": [], "total_time_ms": 9000}, format="json")
    response = client.put(url, {"steps": [], "total_time_ms": 4000}, format="json")
    assert response.json()["total_time_ms"] == 9000


def test_session_clients_need_the_csrf_token(project, annotator):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(annotator)
    assert client.post("/api/assignments/next/", {}, format="json").status_code == 403


# --- the look-ahead (issue 13's breaker): exclude, screening, QC, races -----------------------


@pytest.fixture(params=[True, False], ids=["fast_path", "drf"])
def both_paths(request, monkeypatch):
    from labeling.api import AssignmentNextApi

    monkeypatch.setattr(AssignmentNextApi, "fast_path_enabled", request.param)


def screening_project(golds=2):
    from tests.labeling.services.test_queue import make_project, make_screening

    project = make_project(solutions=2)
    make_screening(project, [[1, 1, 1], [1, -1]][:golds])
    return project


def test_look_ahead_during_the_first_screening_question_is_not_a_500(both_paths):
    """Catches the breaker's repro: a fresh annotator's `{}` gave screening question 31, then
    `{"exclude": [31]}` answered a 500 HTML page (IntegrityError, one draft per solution)."""
    from tests.labeling.services.test_queue import annotator

    project = screening_project()
    client = client_for(annotator(project))
    first = next_task(client).json()
    assert first["kind"] == "screening"
    ahead = next_task(client, project=project.pk, exclude=[first["id"]])
    assert ahead.status_code == 200
    assert ahead.json()["kind"] == "screening" and ahead.json()["id"] != first["id"]
    # both held and both excluded: the held look-ahead again, never a new draft or an error
    again = next_task(client, project=project.pk, exclude=[first["id"], ahead.json()["id"]])
    assert again.status_code == 200 and again.json()["id"] == ahead.json()["id"]


def test_the_only_screening_question_excluded_is_204(both_paths):
    from tests.labeling.services.test_queue import annotator

    project = screening_project(golds=1)
    client = client_for(annotator(project))
    first = next_task(client).json()
    response = next_task(client, project=project.pk, exclude=[first["id"]])
    assert response.status_code == 204
    assert response["X-No-Task-Reason"] == "nothing_left"


def test_repeated_exclude_holds_at_most_two_leases(both_paths, project, annotator):
    """Catches 15 live leases for one annotator from repeating next with every id so far."""
    client = client_for(annotator)
    seen = []
    for _ in range(5):
        task = next_task(client, project=project.pk, exclude=seen).json()
        seen += [] if task["id"] in seen else [task["id"]]
    assert Labeling.objects.filter(labeler=annotator, status=LabelingStatus.DRAFT).count() == 2


def test_an_annotator_is_never_told_a_task_is_a_gold_question(both_paths):
    """Catches `"kind": "quality_control"` in the annotator's answers, which told them which
    tasks were hidden gold questions (the task page already hid it)."""
    from tests.labeling.services.test_queue import annotator, gold_for, make_project

    project = make_project(solutions=2, qc_rate=1.0)
    gold_for(SolutionFactory(problem__project=project, steps=list(STEPS)), [1, 1, 1])
    client = client_for(annotator(project))
    task = next_task(client).json()
    assert Labeling.objects.get(pk=task["id"]).is_quality_control
    assert task["kind"] == "task"
    assert client.get(f"/api/assignments/{task['id']}/").json()["kind"] == "task"


def test_a_unique_draft_race_is_a_409_not_a_500(both_paths, project, annotator, monkeypatch):
    """Catches any unique-constraint race surfacing as a 500: the next-task rule answers 409
    ("ask again") and makes nothing."""
    from django.db import IntegrityError

    from labeling.services import assignments

    def collide(*args, **kwargs):
        raise IntegrityError("labeling_one_draft_per_solution")

    monkeypatch.setattr(assignments, "claim_fast", collide)
    response = next_task(client_for(annotator))
    assert response.status_code == 409 and "ask again" in response.json()["detail"]
    assert not Labeling.objects.filter(labeler=annotator).exists()


def test_an_unopened_look_ahead_holds_its_slot_briefly(both_paths, project, annotator, client):
    """Catches a look-ahead lease held for the project's full lease (30 minutes) after the tab
    that prefetched it closed: until it is opened it holds LOOK_AHEAD_LEASE; the page's
    prefetch (X-Look-Ahead) does not open it; opening it (the API detail, the page) does."""
    from datetime import timedelta

    from django.utils import timezone

    from labeling.services.leases import LOOK_AHEAD_LEASE

    api = client_for(annotator)
    current = next_task(api).json()["id"]
    full = timedelta(minutes=project.lease_minutes)
    lease = Labeling.objects.get(pk=current).lease_expires_at
    assert lease - timezone.now() > full - timedelta(minutes=1)  # an ordinary task: full lease
    ahead = next_task(api, project=project.pk, exclude=[current]).json()["id"]

    def left():
        return Labeling.objects.get(pk=ahead).lease_expires_at - timezone.now()

    assert left() <= LOOK_AHEAD_LEASE < full
    client.force_login(annotator)
    page = client.get(f"/tasks/{ahead}/", HTTP_HX_REQUEST="true", HTTP_X_LOOK_AHEAD="1")
    assert page.status_code == 200 and left() <= LOOK_AHEAD_LEASE
    assert api.get(f"/api/assignments/{ahead}/").status_code == 200
    assert left() > full - timedelta(minutes=1)
