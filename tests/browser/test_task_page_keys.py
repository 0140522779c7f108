"""Keys on the task page (issue 13.2) and the finished look of the page (issue 14.4): one
test per example of the issues."""

import json

from playwright.sync_api import expect

from labeling.models import Labeling, LabelingStatus
from tests.browser.conftest import log_in, start_task, step, wait_saved

LONG = 30000


def draft(task_setup) -> list:
    labeling = Labeling.objects.get(labeler=task_setup["annotator"], solution=task_setup["first"])
    return [s["completions"][0]["rating"] for s in labeling.steps]


def pressed(page, index, name):
    return step(page, index).get_by_role("button", name=name, exact=True)


def key(page, key, code, **extra):
    """A keydown as another keyboard layout sends it (Playwright types US QWERTY)."""
    page.evaluate(
        """([key, code, extra]) => (document.activeElement || document.body).dispatchEvent(
            new KeyboardEvent('keydown', Object.assign({key, code, bubbles: true,
                                                        cancelable: true}, extra)))""",
        [key, code, extra],
    )


def test_holding_a_rating_key_rates_one_step(page, task_setup):
    """Issue 13: holding a rating key rated every step in turn (auto-repeat)."""
    log_in(page)
    start_task(page)
    for _ in range(4):  # the first keydown and three auto-repeats
        page.keyboard.down("3")
    page.keyboard.up("3")
    expect(pressed(page, 0, "Positive")).to_have_attribute("aria-pressed", "true")
    expect(step(page, 1)).to_be_visible()
    expect(pressed(page, 1, "Positive")).to_have_attribute("aria-pressed", "false")
    expect(step(page, 2)).to_be_hidden()
    wait_saved(page)
    assert draft(task_setup) == [1]


def test_rating_keys_do_nothing_while_the_reason_form_is_open(page, task_setup):
    """Issue 13: with the Give-up form open and the focus outside its text box, `1` rated."""
    log_in(page)
    start_task(page)
    page.keyboard.press("g")  # opens the give-up form with the focus in its text box
    expect(page.get_by_label("Why are you giving up?")).to_be_focused()
    page.locator("[data-role=problem]").click()  # focus leaves the text box
    expect(page.get_by_label("Why are you giving up?")).not_to_be_focused()
    for k in ("1", "3", "f", "u", "Enter"):
        page.keyboard.press(k)
    expect(pressed(page, 0, "Negative")).to_have_attribute("aria-pressed", "false")
    expect(pressed(page, 0, "Positive")).to_have_attribute("aria-pressed", "false")
    expect(pressed(page, 0, "Flag")).to_have_attribute("aria-pressed", "false")
    page.keyboard.press("Escape")  # closes the form; the keys work again
    expect(page.locator("[data-role=reason-form]")).to_be_hidden()
    page.keyboard.press("3")
    expect(pressed(page, 0, "Positive")).to_have_attribute("aria-pressed", "true")


def test_keys_do_nothing_while_the_key_list_is_open(page, task_setup):
    log_in(page)
    start_task(page)
    page.keyboard.press("?")
    expect(page.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("3")
    expect(pressed(page, 0, "Positive")).to_have_attribute("aria-pressed", "false")


def test_b_then_ctrl_enter_reports_a_bad_problem(page, task_setup):
    """Issue 13: Give up and Report bad problem had no key (5 and 7 Tab presses)."""
    log_in(page)
    start_task(page)
    page.keyboard.press("b")
    box = page.get_by_label("What is wrong with the problem?")
    expect(box).to_be_focused()
    page.keyboard.type("The legs are not given")
    page.keyboard.press("Control+Enter")
    expect(step(page, 0)).to_contain_text("It is", timeout=LONG)  # the next task
    labeling = Labeling.objects.get(labeler=task_setup["annotator"], solution=task_setup["first"])
    assert labeling.status == LabelingStatus.SUBMITTED
    assert (labeling.finish_reason, labeling.reason) == ("bad_problem", "The legs are not given")


def test_g_then_enter_gives_up_and_shift_enter_is_a_new_line(page, task_setup):
    """Issue 13: Enter in the reason box only added a newline. Now Enter sends and
    Shift+Enter is the newline (docs/annotators.md)."""
    log_in(page)
    start_task(page)
    page.keyboard.press("3")
    page.keyboard.press("g")
    page.keyboard.type("cannot check")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("the square root")
    page.keyboard.press("Enter")
    expect(step(page, 0)).to_contain_text("It is", timeout=LONG)
    labeling = Labeling.objects.get(labeler=task_setup["annotator"], solution=task_setup["first"])
    assert (labeling.finish_reason, labeling.reason) == ("give_up", "cannot check\nthe square root")
    assert [s["completions"][0]["rating"] for s in labeling.steps] == [1]


def test_the_key_list_names_every_key(page, task_setup):
    """Issue 13: give up and bad problem were missing from the `?` list."""
    log_in(page)
    start_task(page)
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog")
    for text in ("Give up", "Report a bad problem", "Ctrl", "Shift", "Esc", "Undo", "Flag"):
        expect(dialog).to_contain_text(text)
    expect(dialog).to_contain_text("same place as on a US keyboard")


def test_other_keyboard_layouts_use_the_physical_key(page, task_setup):
    """Issue 13: keys on non-QWERTY layouts. AZERTY's top row types "&" and "é" on the keys
    of 1 and 2; a Cyrillic layout types "\u0430" on the key of F; Dvorak types "x" on the key of B
    (a Latin letter: the printed one counts, so it does nothing)."""
    log_in(page)
    start_task(page)
    key(page, "&", "Digit1")  # AZERTY 1: Negative
    expect(pressed(page, 0, "Negative")).to_have_attribute("aria-pressed", "true")
    key(page, "é", "Digit2")  # AZERTY 2: Neutral
    expect(pressed(page, 0, "Neutral")).to_have_attribute("aria-pressed", "true")
    key(page, "\u0430", "KeyF")  # Cyrillic, the key of F: flag (step 2 is the focused one now)
    expect(pressed(page, 1, "Flag")).to_have_attribute("aria-pressed", "true")
    key(page, "x", "KeyB")  # Dvorak x: nothing
    expect(page.locator("[data-role=reason-form]")).to_be_hidden()
    key(page, "\u043f", "KeyG")  # Cyrillic, the key of G: give up
    expect(page.locator("[data-role=reason-form]")).to_be_visible()
    key(page, "Escape", "Escape")
    key(page, "&", "Digit1", repeat=True)  # a held key on AZERTY acts once too
    expect(pressed(page, 1, "Negative")).to_have_attribute("aria-pressed", "false")


def test_enter_on_an_unfinished_task_says_what_is_missing(page, task_setup):
    """Issue 14: Enter on an unfinished task did nothing and said nothing."""
    log_in(page)
    start_task(page)
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    hint = page.locator("[data-role=hint]")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("Not finished yet: rate step 2")
    page.keyboard.press("3")  # rating again clears it
    expect(hint).to_be_hidden()


def test_buttons_show_their_keys_and_the_page_shows_progress(page, task_setup):
    """Issue 14: no key hints on the buttons; no "what is left" on the task page."""
    log_in(page)
    start_task(page)
    expect(pressed(page, 0, "Negative")).to_contain_text("1")
    expect(page.get_by_role("button", name="Give up")).to_contain_text("g")
    expect(page.get_by_role("button", name="Report bad problem")).to_contain_text("b")
    progress = page.locator("[data-role=progress]")
    expect(progress).to_have_text("0 done today · 1 waiting")
    for k in ("3", "3", "3", "3"):
        page.keyboard.press(k)
    page.keyboard.press("Enter")
    expect(step(page, 0)).to_contain_text("It is", timeout=LONG)
    expect(progress).to_have_text("1 done today · 0 waiting")


def test_a_submitted_task_shows_no_endings_and_disabled_buttons(page, task_setup):
    """Issue 14: a submitted task still showed Give up / Report bad problem (a CSS display
    rule beat `hidden`), and its disabled buttons looked clickable."""
    log_in(page)
    start_task(page)
    url = page.url
    for k in ("3", "3", "3", "3"):
        page.keyboard.press(k)
    wait_saved(page)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda u: u != url)
    page.goto(url)
    page.wait_for_function("window.stepLabelingTask && window.stepLabelingTask.submitted")
    expect(page.get_by_role("button", name="Give up")).to_be_hidden()
    expect(page.get_by_role("button", name="Report bad problem")).to_be_hidden()
    expect(page.locator("[data-role=other-endings]")).to_be_hidden()
    button = pressed(page, 0, "Negative")
    expect(button).to_be_disabled()
    assert button.evaluate("b => getComputedStyle(b).cursor") == "not-allowed"
    enabled_look = page.evaluate(
        """() => { const b = document.createElement('button'); document.body.append(b);
                   const c = getComputedStyle(b).color; b.remove(); return c; }"""
    )
    assert button.evaluate("b => getComputedStyle(b).color") != enabled_look


def test_every_hidden_element_is_hidden(page, task_setup):
    """The kind of the Give-up bug: no stylesheet rule may show an element marked hidden (on
    the task page, in each of its states, and on the annotator's home page)."""
    script = """() => Array.from(document.querySelectorAll('[hidden]'))
                   .filter(e => getComputedStyle(e).display !== 'none')
                   .map(e => e.outerHTML.slice(0, 80))"""
    log_in(page)
    assert page.evaluate(script) == []
    start_task(page)
    assert page.evaluate(script) == []
    page.keyboard.press("g")  # the reason form open
    assert page.evaluate(script) == []
    page.keyboard.press("Escape")
    for k in ("3", "3", "3", "3"):  # finished: the Submit card shown
        page.keyboard.press(k)
    expect(page.locator("[data-role=finish]")).to_be_visible()
    assert page.evaluate(script) == []


def test_bare_tex_and_display_math_render_compactly(page, task_setup):
    """Issue 14: TeX outside $…$ (mostly the final \\boxed{…}) showed as source; blank lines
    around display math left large gaps; `\\text{}` inside a pre-wrap text."""
    solution = task_setup["first"]
    solution.steps = [
        "So the answer is \\boxed{\\frac{1}{2}}, as $\\text{for all } x$ holds.",
        "Before\n\n$$x^2 + 1$$ \n\n After, and a lone \\notacommand and a \\\\ stay text.",
        "\\begin{align} a &= b \\end{align}\nThe area is 6\\pi.",
        "# Answer\n\n5",
    ]
    solution.save()
    log_in(page)
    start_task(page)
    first = step(page, 0)
    expect(first.locator(".bare-tex .katex")).to_have_count(1)
    assert "\\boxed" not in first.locator("div.math.text").evaluate(
        "n => Array.from(n.childNodes).filter(c => c.nodeType === 3).map(c => c.nodeValue).join('')"
    )
    katex = first.locator(".katex").last
    assert katex.evaluate("k => getComputedStyle(k).whiteSpace") == "normal"
    # \text{for all } lays out on one line, not one letter per line
    height = katex.evaluate("k => k.querySelector('.katex-html').getBoundingClientRect().height")
    assert height < 40, height
    page.keyboard.press("3")
    second = step(page, 1).locator("div.math.text")
    expect(second.locator(".katex-display")).to_have_count(1)
    around = second.evaluate(
        """n => { const box = n.querySelector('.katex-display').parentElement;
                  return [box.previousSibling.nodeValue, box.nextSibling.nodeValue]; }"""
    )
    assert around[0] == "Before" and around[1].startswith("After"), json.dumps(around)
    expect(second).to_contain_text("\\notacommand")
    page.keyboard.press("3")
    third = step(page, 2)
    expect(third.locator(".katex-display")).to_have_count(1)  # the align environment
    expect(third.locator(".bare-tex")).to_have_count(1)  # \pi
