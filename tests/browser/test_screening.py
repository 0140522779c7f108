"""Screening in the browser: a new annotator answers the screening question first; passing
opens regular work, failing ends it with a plain message."""

from playwright.sync_api import expect

from labeling.models import Generation, GenerationItem, Membership, ScreeningStatus
from tests.browser.conftest import log_in, start_task, step
from tests.factories import SolutionFactory
from tests.labeling.services.test_queue import gold_for


def add_screening(task_setup):
    project = task_setup["project"]
    screening = Generation.objects.create(project=project, number=-1)
    solution = SolutionFactory(
        problem=task_setup["first"].problem, steps=["Screen one.", "Screen two is wrong."]
    )
    GenerationItem.objects.create(generation=screening, solution=solution, rank=1)
    gold_for(solution, [1, -1])
    return solution


def test_passing_screening_leads_to_regular_work(page, task_setup):
    add_screening(task_setup)
    log_in(page)
    start_task(page)
    expect(step(page, 0)).to_contain_text("Screen one.")
    page.keyboard.press("3")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(step(page, 0)).to_contain_text("Let a", timeout=10000)
    membership = Membership.objects.get(user=task_setup["annotator"])
    assert membership.screening_status == ScreeningStatus.PASSED


def test_failing_screening_says_so_plainly(page, task_setup):
    add_screening(task_setup)
    log_in(page)
    start_task(page)
    page.keyboard.press("1")  # gold says this step is fine
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").first).to_contain_text("did not pass the screening")
    assert (
        Membership.objects.get(user=task_setup["annotator"]).screening_status
        == ScreeningStatus.FAILED
    )
