"""An annotator labels in a real browser: keyboard only, reloads, undo, the ways to finish."""

import json
import re

from playwright.sync_api import expect

from labeling.models import Labeling, LabelingStatus
from labeling.services.prm800k_export import labeling_line
from tests.browser.conftest import STEPS, log_in, start_task, step, wait_for_home, wait_saved


def seconds(timer: str) -> int:
    minutes, secs = timer.split(":")[-2:]
    return int(minutes) * 60 + int(secs)


def submitted(annotator) -> Labeling:
    return Labeling.objects.get(labeler=annotator, status=LabelingStatus.SUBMITTED)


def test_label_a_whole_solution_by_keyboard_only(page, task_setup):
    page.goto("/accounts/login/")
    # The field takes focus by `autofocus`, which Chromium applies at a rendering update that
    # may come after the load event: typing before it lost "ann" under load (a CI failure).
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type("ann")
    page.keyboard.press("Tab")
    page.keyboard.type("pw-for-tests")
    page.keyboard.press("Enter")
    wait_for_home(page)
    expect(page.get_by_role("button", name="Start labeling")).to_be_focused()  # autofocus
    page.keyboard.press("Enter")  # starts labeling
    page.wait_for_url("**/tasks/*/")
    expect(step(page, 0)).to_be_visible()
    expect(step(page, 1)).to_be_hidden()  # revealed one at a time
    for key, index in (("3", 0), ("+", 1), ("2", 2)):
        page.keyboard.press(key)
        expect(step(page, index + 1)).to_be_visible()
    page.keyboard.press("f")  # flag the final step as unsure
    page.keyboard.press("0")  # neutral on the final-answer step ends it as a solution
    expect(page.get_by_role("button", name="Submit", exact=True)).to_be_visible()
    first_url = page.url
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: url != first_url)  # the next task is swapped in at once
    expect(step(page, 0)).to_contain_text("It is")

    labeling = submitted(task_setup["annotator"])
    assert labeling.solution == task_setup["first"]
    record = json.loads(labeling_line(labeling))
    assert record["label"]["finish_reason"] == "solution"
    assert [s["completions"][0]["rating"] for s in record["label"]["steps"]] == [1, 1, 0, 0]
    assert [s["completions"][0]["flagged"] for s in record["label"]["steps"]] == [
        False,
        False,
        False,
        True,
    ]
    assert [s["completions"][0]["text"] for s in record["label"]["steps"]] == STEPS
    assert record["labeler"] == str(task_setup["annotator"].labeler_uuid)
    assert record["generation"] == 0
    assert record["label"]["total_time"] > 0


def test_buttons_have_exact_names_order_and_pressed_state(page, task_setup):
    log_in(page)
    start_task(page)
    buttons = step(page, 0).get_by_role("button")
    # each button shows its key (issue 14.4); the key hint is not part of the accessible name
    assert buttons.all_inner_texts()[:4] == ["Negative 1", "Neutral 2", "Positive 3", "Flag f"]
    for name in ("Negative", "Neutral", "Positive", "Flag"):
        expect(step(page, 0).get_by_role("button", name=name, exact=True)).to_be_visible()
    step(page, 0).get_by_role("button", name="Positive").click()
    expect(step(page, 0).get_by_role("button", name="Positive")).to_have_attribute(
        "aria-pressed", "true"
    )
    for name in ("Negative", "Neutral"):
        expect(step(page, 0).get_by_role("button", name=name)).to_have_attribute(
            "aria-pressed", "false"
        )


def test_reload_half_way_keeps_the_draft_and_the_time(page, task_setup):
    log_in(page)
    start_task(page)
    page.keyboard.press("3")
    page.keyboard.press("f")
    page.keyboard.press("2")
    wait_saved(page)
    page.wait_for_timeout(1200)
    before = page.locator("[data-role=timer]").inner_text()
    page.reload()
    expect(step(page, 0).get_by_role("button", name="Positive")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(step(page, 1).get_by_role("button", name="Flag")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(step(page, 1).get_by_role("button", name="Neutral")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(step(page, 2)).to_be_visible()
    expect(step(page, 3)).to_be_hidden()
    # the time sent as the first page went away is stored, and shown after the next load
    labeling = Labeling.objects.get(labeler=task_setup["annotator"], solution=task_setup["first"])
    for _ in range(50):
        labeling.refresh_from_db()
        if labeling.total_time_ms >= seconds(before) * 1000:
            break
        page.wait_for_timeout(100)
    assert seconds(before) >= 1 and labeling.total_time_ms >= seconds(before) * 1000
    page.reload()
    assert seconds(page.locator("[data-role=timer]").inner_text()) >= seconds(before)
    # a second tab shows exactly the saved state too
    other = page.context.new_page()
    other.goto(page.url)
    expect(step(other, 1).get_by_role("button", name="Neutral")).to_have_attribute(
        "aria-pressed", "true"
    )
    labeling = Labeling.objects.get(labeler=task_setup["annotator"], solution=task_setup["first"])
    assert [s["completions"][0]["rating"] for s in labeling.steps] == [1, 0]
    assert labeling.total_time_ms >= 1000


def test_undo_removes_the_last_rating_everywhere(page, task_setup):
    log_in(page)
    start_task(page)
    for key in ("3", "3", "1"):
        page.keyboard.press(key)
    expect(step(page, 3)).to_be_hidden()
    page.keyboard.press("u")
    expect(step(page, 2).get_by_role("button", name="Negative")).to_have_attribute(
        "aria-pressed", "false"
    )
    page.keyboard.press("Backspace")
    expect(step(page, 1).get_by_role("button", name="Positive")).to_have_attribute(
        "aria-pressed", "false"
    )
    expect(step(page, 2)).to_be_hidden()
    wait_saved(page)
    labeling = Labeling.objects.get(labeler=task_setup["annotator"], solution=task_setup["first"])
    assert [s["completions"][0]["rating"] for s in labeling.steps] == [1]


def test_a_negative_ends_the_labeling_and_truncates_and_reopens(page, task_setup):
    log_in(page)
    start_task(page)
    for key in ("3", "3", "3"):
        page.keyboard.press(key)
    expect(step(page, 3)).to_be_visible()
    # go back to step 2 with the arrow keys and call it wrong: later steps drop away
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("-")
    expect(step(page, 2)).to_be_hidden()
    expect(page.locator("[data-role=finish-text]")).to_contain_text("Negative")
    # changing it back re-opens the next step
    page.keyboard.press("3")
    expect(step(page, 2)).to_be_visible()
    expect(step(page, 2).get_by_role("button", name="Positive")).to_have_attribute(
        "aria-pressed", "false"
    )
    page.keyboard.press("1")  # step 3 is wrong
    expect(page.get_by_role("button", name="Submit", exact=True)).to_be_visible()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/tasks/\d+/$"))
    expect(step(page, 0)).to_contain_text("It is")
    labeling = submitted(task_setup["annotator"])
    record = json.loads(labeling_line(labeling))
    assert record["label"]["finish_reason"] == "found_error"
    assert [s["completions"][0]["rating"] for s in record["label"]["steps"]] == [1, 1, -1]
    assert record["label"]["steps"][-1]["chosen_completion"] is None


def test_give_up_with_a_reason(page, task_setup):
    log_in(page)
    start_task(page)
    page.keyboard.press("3")
    page.get_by_role("button", name="Give up").click()
    page.get_by_role("button", name="Give up").last.click()  # empty reason is refused
    expect(page.locator("[data-role=reason-error]")).to_be_visible()
    page.get_by_label("Why are you giving up?").fill("I cannot check the square root")
    page.get_by_role("button", name="Give up").last.click()
    expect(step(page, 0)).to_contain_text("It is")
    labeling = submitted(task_setup["annotator"])
    assert labeling.finish_reason == "give_up"
    assert labeling.reason == "I cannot check the square root"
    assert [s["completions"][0]["rating"] for s in labeling.steps] == [1]


def test_report_bad_problem_with_a_reason(page, task_setup):
    log_in(page)
    start_task(page)
    page.get_by_role("button", name="Report bad problem").click()
    page.get_by_label("What is wrong with the problem?").fill("The legs are not given")
    page.get_by_label("What is wrong with the problem?").press("Tab")
    page.keyboard.press("Enter")  # the focused submit button
    expect(step(page, 0)).to_contain_text("It is")
    labeling = submitted(task_setup["annotator"])
    assert (labeling.finish_reason, labeling.reason) == ("bad_problem", "The legs are not given")


def test_math_is_rendered_and_errors_show_the_source(page, task_setup):
    problem = task_setup["first"].problem
    problem.text = "Broken $\\frac{1}$ formula and good $x^2$ <img src=x onerror=alert(1)>"
    problem.save()
    log_in(page)
    start_task(page)
    expect(page.locator("[data-role=problem] .katex").first).to_be_visible()
    expect(page.locator("[data-role=problem] .katex-error")).to_contain_text("\\frac{1}")
    expect(page.locator("[data-role=problem]")).to_contain_text("<img src=x onerror=alert(1)>")
    assert page.locator("[data-role=problem] img").count() == 0
    expect(step(page, 0).locator(".katex").first).to_be_visible()


def test_a_failed_save_says_offline_and_retry_now_saves_it(page, task_setup):
    log_in(page)
    start_task(page)
    page.route("**/draft/", lambda route: route.abort())
    page.keyboard.press("3")
    status = page.locator("[data-role=save-status]")
    expect(status).to_have_text("Offline — will retry")
    expect(page.get_by_role("button", name="Retry now")).to_be_visible()
    page.unroute("**/draft/")
    page.get_by_role("button", name="Retry now").click()
    expect(status).to_have_text("Saved")
    labeling = Labeling.objects.get(labeler=task_setup["annotator"], solution=task_setup["first"])
    assert [s["completions"][0]["rating"] for s in labeling.steps] == [1]


def test_question_mark_shows_the_key_map(page, task_setup):
    log_in(page)
    start_task(page)
    page.keyboard.press("?")
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.get_by_role("dialog")).to_contain_text("Undo the last rating")


def test_double_submit_stores_one_labeling(page, task_setup):
    log_in(page)
    start_task(page)
    for key in ("3", "3", "3", "3"):
        page.keyboard.press(key)
    wait_saved(page)
    page.evaluate(
        """() => Promise.all([1, 2, 3].map(() => fetch(
            window.stepLabelingTask.api + 'submit/',
            {method: 'POST', credentials: 'same-origin',
             headers: {'Content-Type': 'application/json',
                       'X-CSRFToken': document.cookie.match(/csrftoken=([^;]+)/)[1]},
             body: JSON.stringify({finish_reason: 'solution'})}).then(r => r.status)))"""
    )
    page.get_by_role("button", name="Submit", exact=True).dblclick()
    assert (
        Labeling.objects.filter(
            labeler=task_setup["annotator"], status=LabelingStatus.SUBMITTED
        ).count()
        == 1
    )


def test_bare_tex_answers_are_rendered(page, task_setup):
    problem = task_setup["first"].problem
    problem.reference_answer = "1\\pm\\sqrt{19}"
    problem.save()
    log_in(page)
    start_task(page)
    expect(page.locator("[data-role=reference-answer] .katex")).to_be_visible()
