"""The PRM hint on the real task page (issue 19 part 1, docs/model-assisted.md): a faint note
in the card of the step the model thinks is the first error, never a pressed rating; the
annotator still rates every step, and the page runs under the CSP with no inline script."""

from playwright.sync_api import expect

from active_learning.models import ModelVersion, SolutionScore
from labeling.models import Labeling
from tests.browser.conftest import STEPS, log_in, start_task, step, wait_saved


def test_the_hint_marks_the_prm_first_error_and_rates_nothing(page, task_setup):
    """Catches a hint that pre-selects a rating (a pressed button, a saved rating), a marker
    on the wrong step, and a hint that blocks rating the step it marks."""
    project = task_setup["project"]
    project.hints_enabled = True
    project.hints_unhinted_share = 0.0
    project.save()
    version = ModelVersion.objects.create(
        project=project, status="ready", is_current=True, backbone="tiny"
    )
    scores = [0.9] * len(STEPS)
    scores[1] = 0.25  # the PRM's first error: the second step, P(error) 0.75
    SolutionScore.objects.create(
        model_version=version, solution=task_setup["first"], score=0.2, step_scores=scores
    )
    log_in(page)
    start_task(page)
    hint = page.locator("[data-role=prm-hint]")
    expect(hint).to_have_count(1)
    expect(step(page, 1).locator("[data-role=prm-hint]")).to_contain_text("p = 0.75")
    expect(page.locator('button.rate[aria-pressed="true"]')).to_have_count(0)
    page.keyboard.press("3")  # step 1 Positive: step 2 (the hinted one) appears
    expect(step(page, 1)).to_be_visible()
    expect(step(page, 1).locator("[data-role=prm-hint]")).to_be_visible()
    page.keyboard.press("1")  # the annotator rates the hinted step themselves
    wait_saved(page)
    labeling = Labeling.objects.get(labeler=task_setup["annotator"], solution=task_setup["first"])
    assert [s["completions"][0]["rating"] for s in labeling.steps] == [1, -1]
    assert labeling.hint_model_version == version.pk
