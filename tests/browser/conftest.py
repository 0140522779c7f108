"""Browser tests: Playwright drives the system Chromium against Django's live server."""

import os
import shutil

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


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    # Closing the page sends the time-keeping beacon; the test is over, so drop it rather than
    # let it race the database teardown.
    context.route("**/api/**", lambda route: route.abort())
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


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
