"""Every main page works under the Content-Security-Policy (issue 13, "Doors": no CSP before):
the header is sent, and loading each page (math rendered by KaTeX, htmx requests, the task
page's keyboard labeling, the API docs) reports no CSP violation in the browser."""

import time

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from active_learning.models import Run, RunStatus
from labeling.models import Labeling, Role
from tests.browser.conftest import log_in, page_of_own_context, step
from tests.factories import UserFactory

# Collects violations from the page itself (the console also says, but in prose).
VIOLATIONS_SCRIPT = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(
    `${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def enforced(browser, live_server):
    """A page with the policy enforced (the shared `page` fixture bypasses it; see conftest)."""
    yield from page_of_own_context(browser, live_server, bypass_csp=False)


@pytest.fixture
def csp_page(enforced):
    page = enforced
    messages = []
    page.on(
        "console",
        lambda msg: messages.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.add_init_script(VIOLATIONS_SCRIPT)

    def check(path=None):
        if path is not None:
            response = page.goto(path)
            assert response.status == 200, path
            assert "script-src 'self'" in response.headers["content-security-policy"]
            page.wait_for_load_state("networkidle")
        violations = page.evaluate("window.__cspViolations") + messages
        if "/api/redoc/" in page.url:
            # Redoc's footer logo comes from its CDN: blocking it is the policy at work (the
            # app runs offline); anything else on that page would still fail
            violations = [v for v in violations if "https://cdn.redoc.ly/" not in v]
        messages.clear()
        page.evaluate("window.__cspViolations = []")
        assert violations == [], f"{page.url}: {violations}"

    return check


def test_the_task_page_renders_math_and_saves_under_the_policy(enforced, csp_page, task_setup):
    """KaTeX (its fonts and the styles it sets on its output) and the task page's saves.
    (Waits use locators: Playwright's wait_for_function needs eval, which the policy forbids.)"""
    page = enforced
    log_in(page)
    csp_page()
    page.get_by_role("button", name="Start labeling").click()
    page.wait_for_url("**/tasks/*/")
    expect(page.locator("[data-role=problem] .katex").first).to_be_visible()
    expect(step(page, 0)).to_be_visible()
    page.keyboard.press("3")
    expect(step(page, 0)).to_have_attribute("data-rating", "1")
    deadline = time.monotonic() + 10  # the save (a fetch under connect-src 'self') arrives

    def saved():
        labeling = Labeling.objects.get(labeler=task_setup["annotator"])
        return [s["completions"][0]["rating"] for s in labeling.steps]

    while time.monotonic() < deadline and saved() != [1]:
        time.sleep(0.1)
    assert saved() == [1]
    page.keyboard.press("?")
    csp_page()


def test_every_lead_and_researcher_page_loads_without_a_violation(enforced, csp_page, task_setup):
    page = enforced
    project = task_setup["project"]
    # the model-assisted sections render too (docs/model-assisted.md)
    project.hints_enabled = True
    project.disagreement_budget = 5
    project.save()
    lead = UserFactory(username="lead", role=Role.LEAD, is_staff=True, is_superuser=True)
    project.members.add(lead)
    run = Run.objects.create(
        project=project,
        trigger="lead",
        status=RunStatus.RUNNING,
        stage="train",
        percent=40.0,
        log="[2026-01-01] started\n",
        heartbeat_at=timezone.now(),
    )
    log_in(page, "lead")
    for path in (
        "/",
        f"/projects/{project.pk}/queue/",
        f"/projects/{project.pk}/stats/",
        f"/projects/{project.pk}/solutions/{task_setup['first'].pk}/adjudicate/",
        f"/projects/{project.pk}/data/",
        f"/projects/{project.pk}/loop/",
        f"/projects/{project.pk}/runs/{run.pk}/",
        f"/projects/{project.pk}/generations/",
        f"/projects/{project.pk}/generator/",
        "/account/tokens/",
        "/admin/",
        "/admin/labeling/project/",
        "/api/docs/",
        "/api/redoc/",
    ):
        csp_page(path)
    # an htmx request (the dashboard's filter form swaps its fragment in)
    page.goto(f"/projects/{project.pk}/stats/")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state("networkidle")
    csp_page()


def test_the_login_page_loads_without_a_violation(csp_page, transactional_db):
    csp_page("/accounts/login/")
