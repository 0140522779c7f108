"""The local copy of unsent ratings belongs to the tab that made them (breaker 1, issue 13
"no work lost in a browser"): a tab that saved everything leaves nothing behind, and the
"not applied" warning appears only in the tab whose ratings were really left unsent, in words.
"""

from playwright.sync_api import expect

from tests.browser.conftest import log_in, start_task, wait_saved
from tests.browser.test_task_page_saving import STATUS, open_same_task

UNSENT_KEYS = "Object.keys(localStorage).filter((k) => k.startsWith('step-labeling-unsent:'))"


def test_the_warning_after_a_reload_is_in_the_tab_that_left_ratings_unsent(page, task_setup):
    """Breaker 1: tab 1 rates steps 1-2 ("Saved"); tab 2, opened before, rates step 1 Neutral
    and is told "Changed in another tab — reload". Reloading tab 1, which lost nothing,
    showed "Ratings left unsent by an earlier visit were not applied: the task changed since
    (0)." (tab 2's record: one localStorage key for every tab), and tab 2 then reloaded with
    no message. Now tab 1 reloads quietly and tab 2 says in words which rating it dropped."""
    log_in(page)
    start_task(page)
    tab2 = page.context.new_page()
    open_same_task(tab2, page.url)
    page.keyboard.press("3")
    page.keyboard.press("3")
    wait_saved(page)
    assert page.evaluate(UNSENT_KEYS) == []  # everything saved: no unsent record
    tab2.keyboard.press("2")
    expect(tab2.locator(STATUS)).to_have_text("Changed in another tab — reload")

    page.reload()
    page.wait_for_function("window.stepLabelingTask && window.stepLabelingTask.id > 0")
    page.wait_for_timeout(500)
    assert "not applied" not in page.locator(STATUS).text_content().lower()
    assert page.evaluate("window.stepLabelingTask.marks.map((m) => m.rating)")[:2] == [1, 1]

    tab2.reload()
    tab2.wait_for_function("window.stepLabelingTask && window.stepLabelingTask.id > 0")
    status = tab2.locator(STATUS)
    expect(status).to_contain_text("1 rating made in an earlier visit and never saved")
    expect(status).to_contain_text("not applied")
    expect(status).to_contain_text("step 1 Neutral")
    assert "(0)" not in status.text_content()
    assert tab2.evaluate("window.stepLabelingTask.marks.map((m) => m.rating)")[:2] == [1, 1]
    tab2.reload()  # said once: the record is gone
    tab2.wait_for_function("window.stepLabelingTask && window.stepLabelingTask.id > 0")
    tab2.wait_for_timeout(500)
    assert "not applied" not in tab2.locator(STATUS).text_content().lower()
    assert tab2.evaluate(UNSENT_KEYS) == []
    tab2.context.route("**/api/**", lambda route: route.abort())
    tab2.close()
