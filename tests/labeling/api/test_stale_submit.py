"""A submit from a stale tab or device (issue 13.1 / 15.2): the revision is checked before the
"already submitted with the same finish reason" shortcut, on both submit paths (PostgreSQL
runs the two-statement path, SQLite the locked one; run this file on both)."""

import pytest

from labeling.models import Labeling
from tests.labeling.api.conftest import TASK_STEPS

pytestmark = pytest.mark.django_db

STEPS = TASK_STEPS
P, N = {"rating": 1, "flagged": False}, {"rating": 0, "flagged": False}


def test_a_stale_submit_with_the_same_finish_reason_is_refused_as_stale(task):
    """Device 2 shows [+1, +1, +1, +1] at revision 4 ("Saved"). Device 1 changes step 4 to
    Neutral (revision 6) and submits as `solution`. Device 2, not yet told, presses Enter: its
    page sends submit with revision 4. Today the idempotent "already submitted with the same
    finish reason" path answers 200 before looking at the revision, so device 2 says
    "Submitted" and moves on while the server holds [+1, +1, +1, 0] -- ratings it never showed.
    Expected: 409 stale_draft (as for a draft), since the revision named is not the one
    submitted. Reproduced in the browser with two contexts (tmp script t3.py in the report)."""
    client, url, task_id = task
    rev = 0
    for n in range(1, 5):
        rev = client.put(url + "draft/", {"steps": [P] * n, "revision": rev}, format="json")
        rev = rev.json()["revision"]
    assert rev == 4  # what device 2 shows
    r = client.put(url + "draft/", {"steps": [P, P, P], "revision": 4}, format="json")
    r = client.put(url + "draft/", {"steps": [P, P, P, N], "revision": 5}, format="json")
    assert r.json()["revision"] == 6
    ok = client.post(url + "submit/", {"finish_reason": "solution", "revision": 6}, format="json")
    assert ok.status_code == 200

    body = {"finish_reason": "solution", "revision": 4}
    stale = client.post(url + "submit/", body, format="json")

    stored = [s["completions"][0]["rating"] for s in Labeling.objects.get(pk=task_id).steps]
    assert stored == [1, 1, 1, 0]
    assert stale.status_code == 409, (stale.status_code, stale.content)
    assert stale.json().get("code") == "stale_draft"


def test_a_repeated_submit_of_the_submitted_revision_is_still_acknowledged(task):
    """The shortcut stays for what it is for: a double click or a retry whose answer was lost
    (same reason, same revision or none) answers 200 and changes nothing; another reason is
    still a plain conflict. Catches a fix that refuses every repeated submit."""
    client, url, _ = task
    rev = client.put(url + "draft/", {"steps": [P] * 4, "revision": 0}, format="json")
    rev = rev.json()["revision"]
    body = {"finish_reason": "solution", "revision": rev}
    assert client.post(url + "submit/", body, format="json").status_code == 200
    assert client.post(url + "submit/", body, format="json").status_code == 200
    again = client.post(url + "submit/", {"finish_reason": "solution"}, format="json")
    assert again.status_code == 200
    other = client.post(url + "submit/", {"finish_reason": "give_up", "reason": "x"}, format="json")
    assert other.status_code == 409 and other.json().get("code") != "stale_draft"
