"""The lead's generator page in a real browser (issue 18): options with a bad prompt template
come back on the field with what was typed; a good one queues a generator run whose page
follows the generate stage live (htmx polling) and can stop it."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from active_learning.models import Run, RunStatus
from labeling.models import Role
from tests.browser.conftest import log_in
from tests.factories import ProblemFactory, ProjectFactory, UserFactory


@pytest.fixture
def lead_setup(transactional_db):
    project = ProjectFactory(name="Generator project")
    ProblemFactory(project=project)
    lead = UserFactory(username="lead", role=Role.LEAD)
    project.members.add(lead)
    return project


def test_a_lead_generates_solutions_and_stops_the_run(page, lead_setup):
    project = lead_setup
    log_in(page, "lead")
    page.goto(f"/projects/{project.pk}/loop/")
    page.get_by_role("navigation", name=project.name).get_by_role("link", name="Generator").click()
    expect(page.get_by_role("heading", name="Generator project: generator")).to_be_visible()
    expect(page.get_by_test_id("generator-counts")).to_contain_text("1 problem(s)")

    template = page.get_by_label("Prompt template")
    template.fill("Solve {problem} in {steps} steps")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_test_id("error-prompt_template")).to_contain_text("{steps}")
    expect(page.get_by_label("Prompt template")).to_have_value("Solve {problem} in {steps} steps")
    assert not Run.objects.exists()

    page.get_by_label("Prompt template").fill("Problem: {problem}\nSolution:")
    page.get_by_label("Samples per problem").fill("3")
    page.get_by_role("button", name="Generate").click()
    run = Run.objects.get()
    expect(page.get_by_role("status")).to_contain_text(f"Generator run {run.pk} queued")
    expect(page.get_by_test_id("status")).to_have_text("Queued")
    assert run.params["generate"]["options"]["samples_per_problem"] == 3

    # the worker reports the generate stage: the run page shows it without a reload
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING,
        stage="generate",
        percent=33,
        progress_note="generating 1/3 solutions · 0.25 solutions/s",
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    expect(page.get_by_test_id("progress-note")).to_have_text(
        "generating 1/3 solutions · 0.25 solutions/s", timeout=8000
    )
    page.get_by_test_id("stop").click()
    expect(page.get_by_role("status")).to_contain_text(f"Run {run.pk} stopped")
    expect(page.get_by_test_id("status")).to_have_text("Failed")
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "stopped by lead" in run.error
