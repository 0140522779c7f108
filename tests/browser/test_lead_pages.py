"""Leads' pages in a real browser (issue 14): managing a project (create, members with a role,
guidelines the annotators see), one project navigation on every lead page, styled error pages
instead of Django's, charts drawn by Chart.js on a time axis, empty states that say what fills
them, and controls that look like what they are."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from labeling.models import Labeling, Membership, Project, Role, User
from tests.browser.conftest import log_in, start_task
from tests.factories import LabelingFactory, UserFactory

LEAD_PAGES = {
    "Queue and settings": "queue/",
    "Members and guidelines": "members/",
    "Statistics": "stats/",
    "Active learning": "loop/",
    "Generator": "generator/",
    "Generations and models": "generations/",
    "Import and export": "data/",
}


@pytest.fixture
def lead(transactional_db):
    return UserFactory(username="lead", role=Role.LEAD)


def test_a_lead_creates_a_project_invites_members_and_sets_guidelines(page, lead, task_setup):
    """Before: leads could create projects and add members only in the Django admin or with
    `add_user`, and there were no guidelines. Here each is done in the UI, and the annotator
    sees the guidelines on their task."""
    log_in(page, "lead")
    page.get_by_label("Name").fill("Geometry, second pass")
    page.get_by_role("button", name="Create project").click()
    expect(
        page.get_by_role("heading", name="Geometry, second pass: members and guidelines")
    ).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("created")
    created = Project.objects.get(name="Geometry, second pass")
    assert Membership.objects.filter(project=created, user=lead).exists()

    # a new person: an account with the chosen role, the password shown once
    page.get_by_label("User name").fill("newcomer")
    page.get_by_label("Role").select_option("researcher")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status")).to_contain_text("Their password, shown only now")
    newcomer = User.objects.get(username="newcomer")
    assert newcomer.role == Role.RESEARCHER
    assert Membership.objects.filter(project=created, user=newcomer).exists()
    # an existing annotator under another role: refused, saying why, nothing added
    page.get_by_label("User name").fill("ann")
    page.get_by_label("Role").select_option("lead")
    page.get_by_role("button", name="Add member").click()
    expect(page.locator(".errorlist")).to_contain_text("ann is already registered as annotator")
    expect(page.get_by_label("User name")).to_have_value("ann")  # what was typed is kept
    assert not Membership.objects.filter(project=created, user__username="ann").exists()

    # guidelines of the annotator's project, then removal from the new project
    page.goto(f"/projects/{task_setup['project'].pk}/members/")
    page.get_by_label("Guidelines").fill("Rate a step Negative only if it is wrong.\nNo guessing.")
    page.get_by_role("button", name="Save guidelines").click()
    expect(page.get_by_role("status")).to_contain_text("Guidelines saved")
    page.goto(f"/projects/{created.pk}/members/")
    page.get_by_role("button", name="Remove newcomer").click()
    expect(page.get_by_role("status")).to_contain_text("newcomer removed")
    assert not Membership.objects.filter(project=created, user=newcomer).exists()

    page.context.clear_cookies()
    log_in(page, "ann")
    start_task(page)
    guidelines = page.locator("[data-role=guidelines]")
    expect(guidelines).to_contain_text("Guidelines for Geometry")
    guidelines.locator("summary").click()
    expect(guidelines).to_contain_text("No guessing.")


def test_every_lead_page_has_the_project_navigation(page, lead, task_setup):
    """Before: the queue page had no project navigation, the others each their own links."""
    project = task_setup["project"]
    log_in(page, "lead")
    for name, path in LEAD_PAGES.items():
        page.goto(f"/projects/{project.pk}/{path}")
        nav = page.get_by_role("navigation", name=project.name)
        expect(nav.get_by_role("link")).to_have_count(len(LEAD_PAGES))
        current = nav.locator("[aria-current=page]")
        expect(current).to_have_text(name)


def test_annotators_on_lead_pages_get_a_styled_page_that_says_why(page, task_setup):
    """Before: Django's debug 404 listing every URL, or a bare "403 Forbidden"."""
    project = task_setup["project"]
    log_in(page, "ann")
    for path in ("queue/", "stats/", "loop/", "members/", "data/"):
        response = page.goto(f"/projects/{project.pk}/{path}")
        assert response.status == 403, path
        expect(page.get_by_test_id("error-page")).to_contain_text("You cannot open this page")
        expect(page.get_by_role("link", name="Back to your projects")).to_be_visible()
    response = page.goto("/projects/999999/nothing-here/")
    assert response.status == 404
    expect(page.get_by_test_id("error-page")).to_contain_text("Page not found")
    assert "URLconf" not in page.content()


def test_charts_have_a_time_axis_and_a_single_day_is_not_stretched(page, lead, task_setup):
    """Before: server-drawn SVG spaced days evenly whatever the gaps, and one day filled the
    width with the same date at both ends; now Chart.js draws a time axis with tooltips."""
    project, first = task_setup["project"], task_setup["first"]
    other = UserFactory(username="other", role=Role.ANNOTATOR)
    for labeler in (task_setup["annotator"], other):
        LabelingFactory(solution=first, labeler=labeler)
    log_in(page, "lead")
    page.goto(f"/projects/{project.pk}/stats/")
    page.wait_for_function("window.Chart && Chart.getChart(document.querySelector('canvas'))")
    daily = page.evaluate(
        """() => {
          const chart = Chart.getChart(document.querySelector('[data-chart=chart-daily]'));
          const x = chart.scales.x;
          return {type: x.type, span: x.max - x.min, bars: chart.data.datasets[0].data.length};
        }"""
    )
    assert daily["type"] == "time" and daily["bars"] == 1
    assert daily["span"] >= 2 * 24 * 3600 * 1000 - 1  # a day either side, not one day's width

    # days with a gap between them sit apart on the axis, as the time between them
    Labeling.objects.filter(labeler=other).update(submitted_at=timezone.now() - timedelta(days=10))
    page.goto(f"/projects/{project.pk}/stats/?since=2000-01-01")
    page.wait_for_function("window.Chart && Chart.getChart(document.querySelector('canvas'))")
    gap = page.evaluate(
        """() => {
          const chart = Chart.getChart(document.querySelector('[data-chart=chart-daily]'));
          const x = chart.scales.x;
          const xs = chart.data.datasets[0].data.map((p) => x.getPixelForValue(Date.parse(p.x)));
          return {xs: xs, width: x.width};
        }"""
    )
    assert len(gap["xs"]) == 2 and gap["xs"][1] - gap["xs"][0] > gap["width"] / 2
    # a tooltip names the series and the value
    tooltip = page.evaluate(
        """() => {
          const chart = Chart.getChart(document.querySelector('[data-chart=chart-daily]'));
          chart.tooltip.setActiveElements([{datasetIndex: 0, index: 1}], {x: 0, y: 0});
          chart.update();
          return chart.tooltip.body.flatMap((b) => b.lines).concat(chart.tooltip.title);
        }"""
    )
    assert "Labelings per day: 1" in tooltip and len(tooltip) == 2


def test_empty_pages_say_what_fills_them(page, lead, task_setup):
    """Before: an empty "Agreement over time" chart with no message, and "Screening pending" /
    "QC questions 0" on a project that has neither."""
    project = task_setup["project"]
    log_in(page, "lead")
    page.goto(f"/projects/{project.pk}/stats/")
    expect(page.get_by_test_id("chart-agreement-empty")).to_contain_text(
        "Needs two annotators on the same solution"
    )
    expect(page.get_by_test_id("agreement-empty")).to_contain_text("overlap is 1")
    expect(page.get_by_role("heading", name="Quality control")).to_have_count(0)
    page.goto(f"/projects/{project.pk}/queue/")
    expect(page.get_by_test_id("no-quality-control")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Screening")).to_have_count(0)
    expect(page.get_by_role("columnheader", name="Gold questions in the queue")).to_have_count(0)
    page.goto(f"/projects/{project.pk}/generations/")
    expect(page.get_by_test_id("chart-quality-empty")).to_contain_text("each retrain adds")


def test_controls_look_like_what_they_are(page, lead, task_setup):
    """Before: number inputs and selects were browser defaults beside styled fields, disabled
    buttons looked clickable, and the model-versions table overflowed its card."""
    project = task_setup["project"]
    log_in(page, "lead")
    page.goto(f"/projects/{project.pk}/queue/")
    styles = page.evaluate(
        """() => ['input[type=number]', 'select', 'input[type=text]']
          .map((s) => document.querySelector(s) || document.createElement('x'))
          .map((e) => getComputedStyle(e).borderRadius)"""
    )
    page.goto(f"/projects/{project.pk}/data/")
    select_radius = page.evaluate(
        "() => getComputedStyle(document.querySelector('select')).borderRadius"
    )
    assert styles[0] == select_radius == "6px"
    page.goto(f"/projects/{project.pk}/loop/")
    button = page.get_by_role("button", name="Retrain and select the next generation")
    button.evaluate("(b) => b.disabled = true")
    look = button.evaluate(
        "(b) => [getComputedStyle(b).cursor, getComputedStyle(b).backgroundColor]"
    )
    assert look[0] == "not-allowed" and look[1] != "rgb(31, 111, 235)"
    page.set_viewport_size({"width": 700, "height": 900})
    page.goto(f"/projects/{project.pk}/generations/")
    overflow = page.evaluate(
        """() => [...document.querySelectorAll('.card')].every((card) =>
             card.getBoundingClientRect().right <= document.documentElement.clientWidth)"""
    )
    assert overflow, "a card sticks out of the page"
