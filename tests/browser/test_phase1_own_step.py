"""Phase 1's "Write my own step" with text the server refuses (issue 13 "no work lost in a
browser", issue 18 phase 1; breaker 1): the page checks the text with the server's rules
before taking the step, and a step the server still refuses is shown where the annotator can
act on it, with undo unblocking the saves."""

import pytest
from playwright.sync_api import expect

from labeling.models import Labeling
from labeling.phase1_rules import MAX_OWN_STEP_LENGTH
from labeling.text_policy import check_text, is_blank, text_problem
from tests.browser.conftest import log_in, start_task, wait_saved
from tests.browser.test_phase1_page import alternative, phase1_setup  # noqa: F401 (fixture)

OWN = "[data-role=own-text]"
# JavaScript expressions for the refused texts (a lone surrogate cannot cross from Python)
REFUSED = {
    "form feed": ('"Copied from a PDF:\\u000cpage two"', "U+000C"),
    "NUL": ('"a\\u0000b"', "U+0000 (NUL)"),
    "lone surrogate": ('"smile \\ud83d"', "lone surrogate (U+D83D)"),
    "100,000 characters": ('"x".repeat(100000)', "100,000 characters"),
    "bidi override": ('"\\u202emoc.evil"', "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    "only a zero-width space": ('"\\u200b"', "Write your step first."),
}


def rate_all_and_write(page, expression):
    """Rate the three proposals, open the own-step form, set its text by script, press Enter."""
    log_in(page)
    start_task(page)
    for key in ("3", "1", "2"):
        page.keyboard.press(key)
    expect(alternative(page, 2)).to_have_attribute("data-rating", "0")
    page.keyboard.press("w")
    expect(page.locator(OWN)).to_be_focused()
    page.evaluate(f"document.querySelector('{OWN}').value = {expression}")
    page.keyboard.press("Enter")


def stored_human(project) -> list:
    """The stored draft's human_completion of each step position."""
    labeling = Labeling.objects.get(project=project)
    return [s.get("human_completion") for s in labeling.steps]


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_refused_own_step_stays_editable_in_its_form(page, phase1_setup, name):  # noqa: F811
    """Breaker 1: an own step with a form feed (pasted from a PDF), a NUL, a lone surrogate or
    100,000 characters set by script joined the path; the server answered 400, the own-step
    form showed nothing, and the valid step written next was never sent (the server stayed at
    revision 1). Now the page refuses the text in the form, keeps it there to edit, and the
    corrected step is saved."""
    expression, words = REFUSED[name]
    rate_all_and_write(page, expression)
    error = page.locator("[data-role=own-error]")
    expect(error).to_be_visible()
    expect(error).to_contain_text(words)
    expect(page.locator("[data-role=own-form]")).to_be_visible()
    assert page.evaluate(f"document.querySelector('{OWN}').value === {expression}")
    expect(page.locator("[data-role=path] li")).to_have_count(0)
    page.locator(OWN).fill("Then $1 + 1 = 2$.")
    page.keyboard.press("Enter")
    expect(page.locator("[data-role=path] li")).to_have_count(1)
    wait_saved(page)
    human = stored_human(phase1_setup)
    assert human[0]["text"] == "Then $1 + 1 = 2$."


def test_a_step_the_server_refuses_is_shown_and_undo_unblocks_saving(
    page,
    phase1_setup,  # noqa: F811
):
    """The same when the server refuses what the page let through (a rule the page lacks: here
    the page's check is switched off). Breaker 1 saw only "Not saved: steps[0].human: …" in
    the status bar; a valid own step written next was never sent, and `u` removed the bad step
    but saving stayed blocked until Retry. Now the refused step says so in the path, `u` takes
    it back into the form with the reason, and the corrected step saves without Retry."""
    log_in(page)
    start_task(page)
    page.evaluate("window.stepLabelingTask.ownStepProblem = () => null")
    for key in ("3", "1", "2"):
        page.keyboard.press(key)
    page.keyboard.press("w")
    page.evaluate(f"document.querySelector('{OWN}').value = 'A\\u000cB'")
    page.keyboard.press("Enter")
    status = page.locator("[data-role=save-status]")
    expect(status).to_contain_text("Not saved")
    step_error = page.locator("[data-role=path] [data-role=step-error]")
    expect(step_error).to_contain_text("U+000C")
    expect(step_error).to_contain_text("Press u")
    page.keyboard.press("u")
    expect(page.locator("[data-role=own-form]")).to_be_visible()
    expect(page.locator("[data-role=own-error]")).to_contain_text("U+000C")
    assert page.evaluate(f"document.querySelector('{OWN}').value") == "A\fB"
    expect(page.locator("[data-role=path] li")).to_have_count(0)
    wait_saved(page)  # the undo was sent: no Retry needed
    page.locator(OWN).fill("A and B.")
    page.keyboard.press("Enter")
    wait_saved(page)
    expect(page.locator("[data-role=path] [data-role=step-error]")).to_have_count(0)
    human = stored_human(phase1_setup)
    assert human[0]["text"] == "A and B."


# UTF-16 code units of texts checked by both sides: their messages must be word for word equal
SAMPLES = [
    [0x61, 0x0C, 0x62],
    [0x00],
    [0x78, 0xD83D],
    [0xDE00, 0x78],
    [0xD83D, 0xDE00, 0x7F],  # an emoji (a valid pair), then DEL: at character 2
    [0x09, 0x0A, 0x0D, 0x85],
    [0x2212, 0x221A],
    [0x61, 0xFFFF],  # noncharacters: U+FFFF, U+1FFFE and U+10FFFF (pairs), U+FDD0
    [0x61, 0xD83F, 0xDFFE],
    [0xDBFF, 0xDFFF],
    [0xD83F, 0xDFFD, 0xFDD0],  # U+1FFFD is a character
]


def test_the_page_refuses_exactly_what_the_server_refuses(page, phase1_setup):  # noqa: F811
    """Ties static/js/text-policy.js to labeling/text_policy.py: every code point of the Basic
    Multilingual Plane alone is refused by the page exactly when the server refuses it, the
    messages are the server's word for word, and the own step's length limit is the server's
    (MAX_OWN_STEP_LENGTH). Catches a character added to (or dropped from) one list only."""
    log_in(page)
    start_task(page)
    page_refuses = page.evaluate(
        "(() => { const out = []; for (let c = 0; c < 0x10000; c++) {"
        " if (window.StepLabeling.textProblem(String.fromCharCode(c))) out.push(c); }"
        " return out; })()"
    )
    server_refuses = [c for c in range(0x10000) if text_problem(chr(c))]
    assert page_refuses == server_refuses
    for units in SAMPLES:
        text = b"".join(u.to_bytes(2, "little") for u in units).decode("utf-16-le", "surrogatepass")
        said = page.evaluate(
            "(units) => window.StepLabeling.textProblem(String.fromCharCode(...units))", units
        )
        assert said == text_problem(text), units
    assert int(page.locator(OWN).get_attribute("maxlength")) == MAX_OWN_STEP_LENGTH
    too_long = "x" * (MAX_OWN_STEP_LENGTH + 1)
    said = page.evaluate(
        "(n) => window.StepLabeling.checkText('x'.repeat(n), n - 1)", MAX_OWN_STEP_LENGTH + 1
    )
    with pytest.raises(ValueError) as refused:
        check_text(too_long, "human", MAX_OWN_STEP_LENGTH)
    assert refused.value.problem == said


def test_the_page_and_the_server_agree_on_what_is_blank(page, phase1_setup):  # noqa: F811
    """Ties text-policy.js isBlank() to labeling/text_policy.py is_blank() over every code point
    of the Basic Multilingual Plane, alone and padded with spaces: an own step of only a
    zero-width space (U+200B) was taken by the page (`trim()` keeps it) and refused by the
    server. Catches the two rules drifting apart."""
    log_in(page)
    start_task(page)
    page_blank = page.evaluate(
        "(() => { const out = []; for (let c = 0; c < 0x10000; c++) {"
        " if (window.StepLabeling.isBlank(' ' + String.fromCharCode(c) + ' ')) out.push(c); }"
        " return out; })()"
    )
    server_blank = [
        c for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF and is_blank(f" {chr(c)} ")
    ]
    assert page_blank == server_blank
    assert 0x200B in page_blank and ord("x") not in page_blank
