"""Math on the task page (static/js/task-math.js, docs/annotators.md "Math"): dollars that
are prices, escaped dollars, and bare TeX on a very long step."""

from playwright.sync_api import expect

from tests.browser.conftest import log_in, start_task, step


def test_prices_are_prose_and_an_escaped_dollar_loses_its_backslash(page, task_setup):
    """ "Cost is $5 and then $10" rendered "5 and then " as math (auto-render paired the two
    dollars); `\\$3` showed its backslash. Pandoc's rule now decides: an opening $ needs a
    non-space right after it, a closing $ a non-space right before it and no digit after."""
    solution = task_setup["first"]
    solution.steps = [
        "Cost is $5 and then $10, and \\$3 more; but $x + 1$ and $5$ are math.",
        "Two.",
        "Three.",
        "# Answer\n\n5",
    ]
    solution.save()
    log_in(page)
    start_task(page)
    text = step(page, 0).locator("div.math.text")
    expect(text.locator(".katex")).to_have_count(2)  # $x + 1$ and $5$, nothing else
    shown = text.evaluate(
        "n => Array.from(n.childNodes).filter((c) => !c.classList || !c.classList.contains("
        "'katex')).map((c) => c.textContent).join('')"
    )
    assert "Cost is $5 and then $10, and $3 more" in shown, shown
    assert "\\$" not in shown


def test_bare_tex_scan_is_linear_on_a_long_step(page, task_setup):
    """bareSpans scanned to the end of the text from every unclosed group: quadratic, 4 s
    on a 96,000-character step (the page froze). Its step counter must stay within a small
    multiple of the length (the old code, quadratic, would count ~n²/12 here; it did not
    count at all, which fails too)."""
    log_in(page)
    start_task(page)
    for text in ["\\frac{" * 16000, "\\boxed{5} \\x{ " * 8000, "{[" * 48000]:
        steps = page.evaluate(
            "(t) => { const c = { steps: 0 }; window.StepLabeling.bareSpans(t, c); "
            "return c.steps; }",
            text,
        )
        assert 0 < steps <= 4 * len(text), (len(text), steps)
