"""Phase-1 labeling by keyboard in Chromium (issue 18 point 7): rate the proposed next steps,
continue along one, write an own step with its KaTeX preview, wait for the generator, and
export a record in the release's phase-1 layout that re-imports byte for byte."""

import io
import json
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from labeling.models import Labeling, LabelingStatus, NextStepAlternatives, Project, Role
from labeling.services import phase1
from labeling.services.prm800k import prm800k_import
from labeling.services.prm800k_export import prm800k_export
from tests.browser.conftest import log_in, start_task, wait_saved
from tests.browser.test_content_security_policy import csp_page, enforced  # noqa: F401 (fixtures)
from tests.factories import ProblemFactory, ProjectFactory, UserFactory

RELEASE = Path(__file__).parent.parent / "labeling" / "fixtures" / "prm800k_phase1_samples.jsonl"
FIRST = ["Add the two: $1 + 1$.", "It is $3$.", "Hmm, not sure."]
SECOND = ["So the sum is $2$.\n\n# Answer\n\n2", "So it is $11$.\n\n# Answer\n\n11"]


@pytest.fixture
def phase1_setup(transactional_db):
    project = ProjectFactory(name="Phase one", phase1_mode=True, phase1_alternatives=3)
    problem = ProblemFactory(project=project, text="What is $1 + 1$?", reference_answer="2")
    phase1.alternatives_store(problem=problem, prefix=[], texts=FIRST, source="a test fixture")
    phase1.alternatives_store(
        problem=problem, prefix=[FIRST[0]], texts=SECOND, source="a test fixture"
    )
    phase1.phase1_generation_create(project=project)
    annotator = UserFactory(username="ann", role=Role.ANNOTATOR)
    project.members.add(annotator)
    return project


def alternative(page, index):
    return page.locator(f'li.alt[data-index="{index}"]')


def export(project) -> str:
    out = io.StringIO()
    prm800k_export(project=project, out=out)
    return out.getvalue()


def shape(value):
    if isinstance(value, dict):
        return {key: shape(v) for key, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return "null" if value is None else type(value).__name__


def test_phase1_labeling_by_keyboard_exports_a_release_shaped_record(page, phase1_setup):
    """Catches a phase-1 page that cannot be done by keys alone (rate, move, continue,
    submit), a next step's alternatives that do not follow the chosen path, or an export whose
    layout differs from the release's phase-1 records or does not round-trip byte for byte."""
    log_in(page)
    start_task(page)
    expect(page.locator("[data-role=alt-source]")).to_contain_text("a test fixture")
    expect(alternative(page, 0)).to_contain_text("Add the two")
    assert alternative(page, 0).locator(".katex").count() == 1  # math rendered
    # 3 rates the highlighted proposal Positive and moves on to the next unrated one
    for key in ("3", "1", "2"):
        page.keyboard.press(key)
    expect(alternative(page, 2)).to_have_attribute("data-rating", "0")
    page.keyboard.press("k")
    page.keyboard.press("ArrowUp")
    expect(alternative(page, 0)).to_have_attribute("aria-current", "true")
    page.keyboard.press("Enter")  # continue with proposal 1
    # the next step's proposals follow the path taken
    expect(alternative(page, 0)).to_contain_text("So the sum is")
    expect(page.locator("[data-role=path] li")).to_have_count(1)
    page.keyboard.press("3")
    page.keyboard.press("1")
    page.keyboard.press("j")  # past the last: stays there
    page.keyboard.press("k")
    page.keyboard.press("Enter")  # proposal 1 carries the final answer: finished
    expect(page.locator("[data-role=finish]")).to_be_visible()
    expect(page.locator("[data-role=open]")).to_be_hidden()
    wait_saved(page)
    page.keyboard.press("Enter")  # submit
    page.wait_for_url(lambda url: "/tasks/" not in url)

    labeling = Labeling.objects.get(project=phase1_setup)
    assert labeling.status == LabelingStatus.SUBMITTED and labeling.finish_reason == "solution"
    text = export(phase1_setup)
    [line] = text.splitlines()
    record = json.loads(line)
    release = json.loads(RELEASE.read_text(encoding="utf-8").splitlines()[2])
    assert list(record) == list(release)
    assert list(record["question"]) == list(release["question"])
    assert record["generation"] is None
    assert shape(record["label"]["steps"][0]) == shape(release["label"]["steps"][1]) | {
        "human_completion": "null"
    }
    assert record["label"]["steps"] == [
        {
            "completions": [
                {"text": FIRST[0], "rating": 1, "flagged": False},
                {"text": FIRST[1], "rating": -1, "flagged": False},
                {"text": FIRST[2], "rating": 0, "flagged": False},
            ],
            "human_completion": None,
            "chosen_completion": 0,
        },
        {
            "completions": [
                {"text": SECOND[0], "rating": 1, "flagged": False},
                {"text": SECOND[1], "rating": -1, "flagged": False},
            ],
            "human_completion": None,
            "chosen_completion": 0,
        },
    ]
    assert record["label"]["finish_reason"] == "solution"
    assert record["label"]["total_time"] > 0
    # the round trip: import the export elsewhere, export again, byte for byte
    prm800k_import(stream=io.BytesIO(text.encode()), name="p1.jsonl", project_name="again")
    assert export(Project.objects.get(name="again")) == text


def test_own_step_with_preview_waits_for_the_generator_then_give_up(page, phase1_setup):
    """Catches an own step without a live math preview, a path with no proposals that shows
    no wait (or never shows the proposals once the generator stores them), and an own step
    exported otherwise than as the release's human_completion."""
    log_in(page)
    start_task(page)
    for key in ("1", "1", "1"):
        page.keyboard.press(key)
    page.keyboard.press("Enter")  # every proposal Negative: Enter refuses and says why
    expect(page.locator("[data-role=hint]")).to_contain_text("Neutral or Positive")
    page.keyboard.press("w")
    own = page.locator("[data-role=own-text]")
    expect(own).to_be_focused()
    page.keyboard.type("Since $1 + 1 = 2$,")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("it is $\\frac{4}{2}$.")
    expect(page.locator("[data-role=own-preview] .katex")).to_have_count(2)
    page.keyboard.press("Enter")  # continue with the own step
    expect(page.locator("[data-role=wait]")).to_be_visible()
    expect(page.locator("[data-role=wait]")).to_contain_text("Waiting for the generator")
    expect(page.locator("[data-role=path] li")).to_have_count(1)
    expect(page.locator("[data-role=path] li")).to_contain_text("your own step")
    wait_saved(page)
    pending = NextStepAlternatives.objects.get(status="pending")
    assert pending.prefix == ["Since $1 + 1 = 2$,\nit is $\\frac{4}{2}$."]
    phase1.alternatives_fill(
        alternatives_id=pending.pk, texts=["Done.\n\n# Answer\n\n2"], source="the generator"
    )
    expect(alternative(page, 0)).to_contain_text("Done.", timeout=15000)
    expect(page.locator("[data-role=wait]")).to_be_hidden()
    page.keyboard.press("2")
    wait_saved(page)
    page.keyboard.press("g")
    page.keyboard.type("Not sure about the last one.")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/tasks/" not in url)

    record = json.loads(export(phase1_setup))
    first, last = record["label"]["steps"]
    assert first["human_completion"] == {
        "text": "Since $1 + 1 = 2$,\nit is $\\frac{4}{2}$.",
        "rating": None,
        "source": "human",
        "flagged": False,
    }
    assert first["chosen_completion"] is None
    assert last["completions"] == [
        {"text": "Done.\n\n# Answer\n\n2", "rating": 0, "flagged": False}
    ]
    assert record["label"]["finish_reason"] == "give_up"


def test_reload_keeps_the_ratings_and_the_path(page, phase1_setup):
    """Catches phase-1 work lost on a reload (ratings half way through a step, or the path
    taken) or a reloaded page that shows the first step's proposals again."""
    log_in(page)
    start_task(page)
    page.keyboard.press("3")
    page.keyboard.press("1")
    wait_saved(page)
    page.reload()
    page.wait_for_function("window.stepLabelingTask")
    expect(alternative(page, 0)).to_have_attribute("data-rating", "1")
    expect(alternative(page, 1)).to_have_attribute("data-rating", "-1")
    expect(alternative(page, 2)).to_have_attribute("aria-current", "true")  # the next unrated
    page.keyboard.press("2")
    page.keyboard.press("k")
    page.keyboard.press("k")
    page.keyboard.press("Enter")
    expect(alternative(page, 0)).to_contain_text("So the sum is")
    wait_saved(page)
    page.reload()
    page.wait_for_function("window.stepLabelingTask")
    expect(page.locator("[data-role=path] li")).to_have_count(1)
    expect(page.locator("[data-role=path] li")).to_contain_text("Add the two")
    expect(alternative(page, 0)).to_contain_text("So the sum is")
    assert Labeling.objects.get(project=phase1_setup).draft_revision >= 3


def test_a_second_tab_that_saved_first_blocks_the_other(page, phase1_setup):
    """Catches phase-1 saves that overwrite another tab's work (the revision rule of phase 2
    must hold: the older tab is told to reload, and the stored draft keeps the newer work)."""
    log_in(page)
    start_task(page)
    url = page.url
    other = page.context.new_page()
    other.goto(url)
    other.wait_for_function("window.stepLabelingTask")
    other.keyboard.press("3")
    wait_saved(other)
    page.keyboard.press("1")  # this tab never saw the other's rating
    expect(page.locator("[data-role=save-status]")).to_contain_text("Changed in another tab")
    labeling = Labeling.objects.get(project=phase1_setup)
    assert labeling.steps[0]["completions"][0]["rating"] == 1


def test_the_phase1_page_works_under_the_content_security_policy(
    enforced,  # noqa: F811
    csp_page,  # noqa: F811
    phase1_setup,
):
    """Catches phase-1 page code that the policy blocks (inline script or style, eval): the
    proposals' math, rating, the own step's live preview and the save all under the policy."""
    page = enforced
    log_in(page)
    csp_page()
    page.get_by_role("button", name="Start labeling").click()
    page.wait_for_url("**/tasks/*/")
    expect(alternative(page, 0).locator(".katex")).to_have_count(1)
    page.keyboard.press("3")
    expect(alternative(page, 0)).to_have_attribute("data-rating", "1")
    page.keyboard.press("w")
    page.keyboard.type("Then $\\sqrt{4}$.")
    expect(page.locator("[data-role=own-preview] .katex")).to_have_count(1)
    deadline = time.monotonic() + 10  # the save (a fetch under connect-src 'self') arrives
    labeling = Labeling.objects.get(project=phase1_setup)
    while time.monotonic() < deadline and not labeling.steps:
        time.sleep(0.1)
        labeling.refresh_from_db()
    assert labeling.steps[0]["completions"][0]["rating"] == 1
    csp_page()


def test_the_next_phase1_task_is_swapped_in_and_takes_keys(page, phase1_setup):
    """Catches the next task (swapped in without a page load) started as a phase-2 page, or
    still bound to the previous task."""
    second = ProblemFactory(project=phase1_setup, text="What is $2 + 2$?", reference_answer="4")
    phase1.alternatives_store(problem=second, prefix=[], texts=["Add: $4$."], source="fixture")
    phase1.phase1_generation_create(project=phase1_setup)
    log_in(page)
    start_task(page)
    first_url = page.url
    page.keyboard.press("g")
    page.keyboard.type("Skip this one.")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/tasks/" in url and url != first_url)
    expect(page.locator("[data-role=problem]")).to_contain_text("2 + 2")
    expect(alternative(page, 0)).to_contain_text("Add:")
    page.keyboard.press("3")
    expect(alternative(page, 0)).to_have_attribute("data-rating", "1")
    wait_saved(page)
    fresh = Labeling.objects.get(project=phase1_setup, status=LabelingStatus.DRAFT)
    assert fresh.solution.problem == second
    assert fresh.steps[0]["completions"][0]["rating"] == 1
