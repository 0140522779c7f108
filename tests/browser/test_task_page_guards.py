"""Guards of the task page found by a tester (issue 13.1 / 13.2, 14.4): a page never acts as
another user, unsent ratings survive a reload, keys during a submit, Enter on a clicked
button, a refused reason's message, Retry-After: 0, undo after a stray Negative. Each failed
on the code as of d43aafb."""

import contextlib

from playwright.sync_api import expect

from labeling.models import Labeling, Role
from labeling.services import drafts
from tests.browser.conftest import PASSWORD, log_in, start_task, step, wait_saved
from tests.factories import UserFactory

STATUS = "[data-role=save-status]"
LONG = 30000


def log_in_other_tab(context, username):
    other = context.new_page()
    other.goto("/accounts/login/")
    other.get_by_label("Username").fill(username)
    other.get_by_label("Password").fill(PASSWORD)
    other.get_by_label("Password").press("Enter")
    other.wait_for_url(lambda url: "/accounts/" not in url)
    return other


def test_a_page_sends_nothing_as_another_user_signed_in_in_the_browser(page, task_setup):
    """Annotator ann's session ends while her task page is open; bob logs in in another tab
    of the same browser. ann finishes her labeling on the open page. The page says "Signed in
    as bob elsewhere — log in as ann" (right), but finishing the labeling prefetches the next
    task with bob's cookie and the fresh token it took from /session/: POST
    /api/assignments/next/ claims a task FOR BOB (a leased draft bob never opened) and the page
    keeps its HTML. When ann logs in again and submits, the page swaps in bob's task page
    (data-user="bob") inside ann's tab, and her ratings there get 'Not saved: No such
    assignment.' Expected: no request as another user; nothing claimed for bob; the next task
    shown is ann's."""
    bob = UserFactory(username="bob", role=Role.ANNOTATOR)
    task_setup["project"].members.add(bob)
    log_in(page)
    start_task(page)
    page.keyboard.press("3")
    wait_saved(page)
    page.context.clear_cookies()  # the session ends
    other = log_in_other_tab(page.context, "bob")

    page.keyboard.press("3")  # refused (403): the page asks /session/ and takes its token
    expect(page.locator(STATUS)).to_contain_text("log in as ann", timeout=LONG)
    page.keyboard.press("3")
    page.keyboard.press("3")  # the labeling is finished: the page prefetches the next task
    page.wait_for_timeout(2000)  # let a prefetch, if any, land
    claimed_for_bob = list(Labeling.objects.filter(labeler=bob).values_list("pk", flat=True))

    page.context.clear_cookies()
    other.close()
    other = log_in_other_tab(page.context, "ann")
    page.bring_to_front()
    page.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(page.locator(STATUS)).to_have_text("Saved", timeout=LONG)
    page.keyboard.press("Enter")
    first = Labeling.objects.get(labeler=task_setup["annotator"], solution=task_setup["first"])
    page.wait_for_function(
        f"window.stepLabelingTask && window.stepLabelingTask.id !== {first.pk}", timeout=LONG
    )
    shown_user = page.evaluate("document.getElementById('task-root').dataset.user")
    other.close()
    assert claimed_for_bob == [], "ann's page claimed a task for bob"
    assert shown_user == "ann", f"ann's tab shows {shown_user}'s task"


def test_rating_keys_are_ignored_while_a_submit_is_in_flight(page, task_setup):
    """Finish the labeling, press Enter, and (the submit still on its way, e.g. 800 ms on a busy
    server) press u then 1. The keys are not blocked while the submit is in flight: u/1 save a
    new draft revision, the submit (sent with the old revision) gets 409 stale_draft, and this
    single tab says "Changed in another tab — reload" and "Not submitted: Changed in another tab
    or window…" -- there is no other tab. Expected: rating keys ignored while a submit is in
    flight (or the submit wins and the page moves on), never a false 'another tab'."""
    log_in(page)
    start_task(page)
    for _ in range(4):
        page.keyboard.press("3")
    wait_saved(page)
    expect(page.locator("[data-role=finish]")).to_be_visible()
    page.evaluate(
        "window.__fetch = window.fetch; window.fetch = (u, o) => String(u).includes('/submit/')"
        " ? new Promise((r) => setTimeout(r, 800)).then(() => window.__fetch(u, o))"
        " : window.__fetch(u, o)"
    )
    page.keyboard.press("Enter")
    page.wait_for_timeout(100)
    page.keyboard.press("u")
    page.keyboard.press("1")
    page.wait_for_timeout(3000)
    text = page.locator(STATUS).text_content()
    hint = page.locator("[data-role=hint]").text_content() or ""
    assert "another tab" not in text and "another tab" not in hint, (text, hint)
    expect(step(page, 0)).to_be_visible()


def test_a_reload_while_signed_out_warns_or_keeps_the_unsent_ratings(page, task_setup):
    """Issue 13's own words: "the reload drops the ratings made since". The session ends; the
    annotator rates two more steps ("Signed out — log in again to save; your ratings stay on
    this page"), then does what people do: reloads (or closes the tab). No beforeunload
    warning is raised and nothing keeps the marks (no local copy): after logging in, the task
    shows one rating, the two made since are gone. Expected: a warning before the page goes
    away with unsaved marks, or the marks restored after the login."""
    url = _rate_two_while_signed_out(page)
    warned = []
    page.on("dialog", lambda dialog: (warned.append(dialog.type), dialog.dismiss()))
    # a dismissed beforeunload keeps the page: the reload then never completes
    with contextlib.suppress(Exception):
        page.reload(timeout=5000)
    if warned:
        return  # warned before losing anything
    log_in(page)
    page.goto(url)
    page.wait_for_function("window.stepLabelingTask && window.stepLabelingTask.id > 0")
    shown = page.evaluate("window.stepLabelingTask.marks.filter((m) => m.rating !== null).length")
    assert shown == 3, f"{3 - shown} of the ratings made while signed out were silently dropped"


def test_a_refused_give_up_reason_shows_the_fields_message(page, task_setup):
    """Give up (g) with a reason pasted from a terminal (an ESC control character), sent with
    Ctrl+Enter. The server answers 400 {"reason": ["Text contains the control character
    U+001B …"]}; the page reads only `detail`, so it says "Not submitted: Bad Request. Press
    Enter to try again." under the steps, the reason form's own error line stays hidden, and
    Enter sends the same text again. Expected: the field's message, next to the reason box."""
    log_in(page)
    start_task(page)
    page.keyboard.press("g")
    page.locator("[data-role=reason-form] textarea").fill("copied \u001b[31m from a terminal")
    page.keyboard.press("Control+Enter")
    expect(page.locator("[data-role=hint]")).to_be_visible(timeout=LONG)
    shown = page.locator("[data-role=hint]").text_content() + (
        page.locator("[data-role=reason-error]").text_content() or ""
    )
    assert "control character" in shown, shown


def test_enter_after_clicking_flag_submits(page, task_setup):
    """Rate every step with the keys, then click Flag on the last step with the mouse (focus
    stays on that button) and press Enter to submit, as the finish box says ("or press
    Enter"). The page leaves Enter to the focused button, so Enter clicks Flag again: the flag
    just set is silently removed and nothing is submitted; a second Enter sets it again, and
    so on. Expected: Enter on a rating or flag button of a finished labeling submits (the
    buttons are clicked with the mouse, Enter is the documented submit key), or at least
    never silently undoes the mark."""
    log_in(page)
    start_task(page)
    for _ in range(4):
        page.keyboard.press("3")
    wait_saved(page)
    url = page.url
    page.locator('li.step[data-index="3"] [data-role=flag]').click()
    wait_saved(page)
    assert page.evaluate("window.stepLabelingTask.marks[3].flagged") is True
    page.keyboard.press("Enter")
    page.wait_for_timeout(2000)
    flagged_now = page.url == url and page.evaluate("window.stepLabelingTask.marks[3].flagged")
    submitted = Labeling.objects.get(
        labeler=task_setup["annotator"], solution=task_setup["first"]
    ).status
    assert submitted == "submitted" or flagged_now, "Enter silently removed the flag"


def test_a_503_with_retry_after_zero_backs_off(page, task_setup):
    """A server (or the proxy in front of it) that answers 503 with `Retry-After: 0`, or with
    an HTTP date already past (a clock skew), while the database restarts. The page takes
    the header as the delay with no floor and no backoff: about 130 saves a second from one
    tab (405 in 3 s here), so 100 annotators send ~13,000 requests/s at a server that is
    trying to come back. Expected: a floor (say 1 s) and the backoff still growing when the
    header says 0."""
    log_in(page)
    start_task(page)
    sent = []

    def busy(route):
        sent.append(1)
        route.fulfill(status=503, headers={"Retry-After": "0"}, body="{}")

    page.route("**/draft/", busy)
    page.keyboard.press("3")
    page.wait_for_timeout(3000)
    page.unroute("**/draft/")
    assert len(sent) <= 10, f"{len(sent)} saves in 3 s after 503 Retry-After: 0"


def test_undo_after_a_stray_negative_on_an_earlier_step_restores_the_later_ratings(
    page, task_setup
):
    """Rate all four steps Positive ("Saved"), press Up three times to look at step 1 and hit
    1 by mistake: a Negative ends the labeling, so steps 2-4 are cleared and the draft saved
    as [-1]. Undo (u) then clears step 1 and leaves [] -- the three acknowledged ratings are
    gone for good, with no warning, from one stray key. Expected: undo restores the marks the
    Negative cleared (or the Negative asks first when it would drop rated steps)."""
    log_in(page)
    start_task(page)
    for _ in range(4):
        page.keyboard.press("3")
    wait_saved(page)
    for _ in range(3):
        page.keyboard.press("ArrowUp")
    page.keyboard.press("1")
    page.keyboard.press("u")
    page.wait_for_timeout(1000)
    wait_saved(page)
    marks = page.evaluate("window.stepLabelingTask.marks.map((m) => m.rating)")
    assert marks == [1, 1, 1, 1], marks


def _rate_two_while_signed_out(page):
    """Sign in, rate step 1 and wait for the save, end the session, rate two more steps and
    wait for "Signed out"; returns the task's URL."""
    log_in(page)
    start_task(page)
    page.keyboard.press("3")
    wait_saved(page)
    url = page.url
    page.context.clear_cookies()  # the session ends
    page.keyboard.press("3")
    page.keyboard.press("3")
    expect(page.locator(STATUS)).to_contain_text("Signed out", timeout=LONG)
    return url


def _reopen(page, url):
    """Close the tab (no beforeunload: nothing asks) and open the task again, signed in."""
    context = page.context
    page.close()
    again = context.new_page()
    log_in(again)
    again.goto(url)
    again.wait_for_function("window.stepLabelingTask && window.stepLabelingTask.id > 0")
    return again


def test_ratings_unsent_when_the_tab_closed_are_restored_and_sent(page, task_setup):
    """Signed out, two more ratings, the tab closed: they were lost. Now the page kept them in
    localStorage (task id + user) with the revision they were based on; the server is still at
    that revision, so the reopened page restores and sends them."""
    url = _rate_two_while_signed_out(page)
    again = _reopen(page, url)
    expect(again.locator(STATUS)).to_have_text("Saved", timeout=LONG)
    labeling = Labeling.objects.get(labeler=task_setup["annotator"], solution=task_setup["first"])
    assert [s["completions"][0]["rating"] for s in labeling.steps] == [1, 1, 1]
    assert again.evaluate("window.stepLabelingTask.marks.map((m) => m.rating)")[:3] == [1, 1, 1]


def test_unsent_ratings_based_on_an_older_revision_are_shown_as_a_conflict(page, task_setup):
    """The same, but another device saved the task meanwhile (revision 2): the unsent marks
    would overwrite its ratings unseen. The page keeps the server's marks and says which
    unsent ones it did not apply."""
    url = _rate_two_while_signed_out(page)
    labeling = Labeling.objects.get(labeler=task_setup["annotator"], solution=task_setup["first"])
    drafts.assignment_draft_save(
        user_id=labeling.labeler_id,
        assignment_id=labeling.pk,
        steps=[{"rating": 0, "flagged": False}],
        revision=1,
    )
    again = _reopen(page, url)
    expect(again.locator(STATUS)).to_contain_text("not applied", timeout=LONG)
    assert again.evaluate("window.stepLabelingTask.marks.map((m) => m.rating)")[0] == 0
    labeling.refresh_from_db()
    assert [s["completions"][0]["rating"] for s in labeling.steps] == [0]
