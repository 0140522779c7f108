"""Browser tests: Playwright drives the system Chromium against Django's live server."""

import os
import shutil
import threading
import time

import pytest
from playwright.sync_api import sync_playwright

from labeling.models import Generation, GenerationItem, Role
from tests.factories import ProblemFactory, ProjectFactory, SolutionFactory, UserFactory

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make between
# browser actions are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "pw-for-tests"
STEPS = [
    "Let $a = 3$ and $b = 4$.",
    "Then $a^2 + b^2 = 9 + 16 = 25$.",
    "So $c = \\sqrt{25} = 5$, and $\\frac{1}{2}$ of it is $2.5$.",
    "The hypotenuse is 5.\n\n# Answer\n\n5",
]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


def page_of_own_context(browser, live_server, *, bypass_csp: bool):
    """Yield a page in a context of its own on the live server (10 s default timeout), then
    close the context and fail the test if the page raised a JavaScript error. The body of the
    `page` fixture and of test_content_security_policy.py's `enforced`."""
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1100, "height": 900}, bypass_csp=bypass_csp
    )
    page = context.new_page()
    page.set_default_timeout(10000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    close_and_drain(context)
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def page(browser, live_server):
    # bypass_csp: Playwright's wait_for_function evaluates its predicate with eval, which the
    # Content-Security-Policy forbids; tests/browser/test_content_security_policy.py loads the
    # pages with the policy enforced.
    yield from page_of_own_context(browser, live_server, bypass_csp=True)


def close_and_drain(context, timeout=30.0):
    """Close a browser context, then wait until the live server has finished every request.

    Closing the page sends the time-keeping beacon; the test is over, so that is dropped. But a
    request the server had already taken (a draft save, a page load in a second tab) goes on
    in its own thread after the browser lets go, inside a transaction; if the database
    teardown's TRUNCATE starts meanwhile, PostgreSQL reports a deadlock and the next test finds
    the last one's rows (CI, stop 20: test_reload_half_way_keeps_the_draft_and_the_time). The
    live server (socketserver.ThreadingMixIn) runs each connection in a thread named
    "Thread-N (process_request_thread)"; once the browser has closed its sockets they all end.
    """
    context.route("**/api/**", lambda route: route.abort())
    context.close()
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread.name.endswith("(process_request_thread)"):
            thread.join(max(0.0, deadline - time.monotonic()))
    busy = [t.name for t in threading.enumerate() if t.name.endswith("(process_request_thread)")]
    assert not busy, f"the live server was still serving after {timeout:.0f} s: {busy}"


@pytest.fixture
def task_setup(transactional_db):
    """A project whose current generation holds two solutions, and an annotator in it."""
    project = ProjectFactory(name="Geometry")
    generation = Generation.objects.create(project=project, number=0)
    problem = ProblemFactory(
        project=project,
        text="A right triangle has legs $3$ and $4$. Find the hypotenuse $c$.",
        reference_answer="5",
    )
    first = SolutionFactory(problem=problem, steps=STEPS)
    second = SolutionFactory(problem=problem, steps=["It is $7$.", "# Answer\n\n7"])
    GenerationItem.objects.create(generation=generation, solution=first, rank=1)
    GenerationItem.objects.create(generation=generation, solution=second, rank=2)
    annotator = UserFactory(username="ann", role=Role.ANNOTATOR)
    project.members.add(annotator)
    return {"project": project, "annotator": annotator, "first": first, "second": second}


def log_in(page, username="ann"):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    wait_for_home(page)


def wait_for_home(page):
    page.wait_for_url(lambda url: url.endswith("/") and "/accounts/" not in url)


def start_task(page):
    page.get_by_role("button", name="Start labeling").click()
    page.wait_for_url("**/tasks/*/")
    page.wait_for_function(
        "window.stepLabelingTask !== null && window.stepLabelingTask !== undefined"
    )


def step(page, index):
    return page.locator(f'li.step[data-index="{index}"]')


def wait_saved(page):
    page.wait_for_function(
        "document.querySelector('[data-role=save-status]').dataset.state === 'saved'"
    )
