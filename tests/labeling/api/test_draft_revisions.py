"""Draft revisions (issue 13.1): a save names the revision it was based on; a stale one is
refused with the stored draft, so one tab never overwrites what another tab saved unseen."""

import pytest

from labeling.models import Labeling, LabelingStatus, Role
from labeling.services.drafts import StaleDraft, assignment_draft_save
from tests.factories import UserFactory
from tests.labeling.api.conftest import TASK_STEPS

pytestmark = pytest.mark.django_db

STEPS = TASK_STEPS
P, N = {"rating": 1, "flagged": False}, {"rating": 0, "flagged": False}


def put(client, url, **body):
    return client.put(url + "draft/", body, format="json")


def marks(task_id):
    return [s["completions"][0]["rating"] for s in Labeling.objects.get(pk=task_id).steps]


def test_the_two_tab_example_keeps_step_three_and_tells_the_second_tab(task):
    """Issue 13's example: both tabs load revision 0 with step 1 rated; tab 1 rates steps 2 and
    3; tab 2, still showing step 2 unrated, rates it Neutral. The old code stored [+1, 0] and
    dropped step 3; now tab 2 gets 409 with the stored draft and nothing changes."""
    client, url, task_id = task
    first = put(client, url, steps=[P], revision=0)
    assert first.json()["revision"] == 1
    # tab 1 and tab 2 both show revision 1
    tab1 = put(client, url, steps=[P, P], revision=1)
    assert tab1.status_code == 200 and tab1.json()["revision"] == 2
    tab1 = put(client, url, steps=[P, P, P], revision=2)
    assert tab1.json()["revision"] == 3
    tab2 = put(client, url, steps=[P, N], revision=1)
    assert tab2.status_code == 409
    body = tab2.json()
    assert body["code"] == "stale_draft" and body["revision"] == 3
    assert body["steps"] == [P, P, P]
    assert "another tab" in body["detail"]
    assert marks(task_id) == [1, 1, 1]  # step 3 kept


def test_a_retried_save_whose_answer_was_lost_is_accepted(task):
    """The same marks again with the old revision (the answer to the first try was lost):
    nothing to overwrite, so 200 with the current revision rather than a false conflict."""
    client, url, task_id = task
    assert put(client, url, steps=[P, P], revision=0).json()["revision"] == 1
    again = put(client, url, steps=[P, P], revision=0, total_time_ms=500)
    assert again.status_code == 200 and again.json()["revision"] == 1
    assert marks(task_id) == [1, 1]


def test_unchanged_marks_write_neither_steps_nor_a_new_revision(task):
    """The heartbeat (same marks, or no steps at all) keeps the time and the lease only."""
    client, url, task_id = task
    put(client, url, steps=[P], revision=0)
    before = Labeling.objects.get(pk=task_id)
    response = put(client, url, steps=[P], revision=1, total_time_ms=9000)
    assert response.json() == {"saved": True, "total_time_ms": 9000, "revision": 1}
    response = put(client, url, total_time_ms=12000)  # time only
    assert response.json() == {"saved": True, "total_time_ms": 12000, "revision": 1}
    after = Labeling.objects.get(pk=task_id)
    assert after.draft_revision == 1 and after.steps == before.steps
    assert after.lease_expires_at >= before.lease_expires_at


def test_the_detail_reports_the_revision_to_start_from(task):
    client, url, _ = task
    assert client.get(url).json()["draft"]["revision"] == 0
    put(client, url, steps=[P], revision=0)
    assert client.get(url).json()["draft"]["revision"] == 1


def test_a_submit_based_on_an_older_revision_is_refused_and_loses_nothing(task):
    """Tab 2 saw step 1 only (a Negative); tab 1 has since rated more. Submitting tab 2's view
    would end the labeling on ratings it never showed: 409, still a draft."""
    client, url, task_id = task
    put(client, url, steps=[{"rating": -1, "flagged": False}], revision=0)
    put(client, url, steps=[P], revision=1)
    stale = client.post(
        url + "submit/", {"finish_reason": "found_error", "revision": 1}, format="json"
    )
    assert stale.status_code == 409 and stale.json()["code"] == "stale_draft"
    assert stale.json()["revision"] == 2
    assert Labeling.objects.get(pk=task_id).status == LabelingStatus.DRAFT
    for revision in (2, 3, 4):
        put(client, url, steps=[P] * revision, revision=revision)
    done = client.post(url + "submit/", {"finish_reason": "solution", "revision": 5}, format="json")
    assert done.status_code == 200, done.content


def test_a_bad_revision_is_400(task):
    client, url, _ = task
    assert put(client, url, steps=[P], revision=-1).status_code == 400
    assert put(client, url, steps=[P], revision=2**40).status_code == 400


def test_another_tabs_save_between_read_and_write_is_not_overwritten(task, monkeypatch):
    """The race the revision condition in the UPDATE closes: tab 1's save lands after tab 2's
    save has read the draft and before it writes. Without the condition tab 2 would overwrite
    step 3 (it read revision 1 and its marks differ)."""
    from labeling.services import drafts

    client, url, task_id = task
    put(client, url, steps=[P], revision=0)
    original = drafts._draft_write

    def other_tab_then_write(user_id, assignment_id, *args):
        monkeypatch.setattr(drafts, "_draft_write", original)  # once
        other = assignment_draft_save(
            user_id=user_id, assignment_id=task_id, steps=[P, P, P], revision=1
        )
        assert other.revision == 2
        return original(user_id, assignment_id, *args)

    monkeypatch.setattr(drafts, "_draft_write", other_tab_then_write)
    with pytest.raises(StaleDraft) as raised:
        assignment_draft_save(
            user_id=Labeling.objects.get(pk=task_id).labeler_id,
            assignment_id=task_id,
            steps=[P, N],
            revision=1,
        )
    assert raised.value.data["revision"] == 2 and raised.value.data["steps"] == [P, P, P]
    assert marks(task_id) == [1, 1, 1]


def test_session_state_answers_anonymous_callers_and_gives_a_fresh_token(client):
    """The task page polls /session/?user=<its user> after a refused save: anonymous is a JSON
    answer, not a redirect to the login page, and the page's own user gets a CSRF token that
    works."""
    response = client.get("/session/?user=ann")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert response.json()["authenticated"] is False and response.json()["csrf_token"] is None
    user = UserFactory(role=Role.ANNOTATOR)
    client.force_login(user)
    body = client.get("/session/", {"user": user.username}).json()
    assert body["authenticated"] is True and body["username"] == user.username
    assert body["csrf_token"]


def test_session_state_never_hands_a_page_another_users_token(client):
    """bob signed in in another tab of ann's browser: ann's page (?user=ann) is told who is
    signed in but gets no token, so it cannot send anything as bob (issue 13, brk). A caller
    naming no user gets none either."""
    bob = UserFactory(username="bob", role=Role.ANNOTATOR)
    client.force_login(bob)
    body = client.get("/session/", {"user": "ann"}).json()
    assert body == {"authenticated": True, "username": "bob", "csrf_token": None}
    assert client.get("/session/").json()["csrf_token"] is None
