"""The lead's active-learning page in a real browser: a click queues a run, the progress panel
follows the run live (htmx polling) and stops polling when it is over."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from active_learning.models import Run, RunStatus
from labeling.models import Role
from tests.browser.conftest import log_in
from tests.factories import ProjectFactory, UserFactory


@pytest.fixture
def lead_setup(transactional_db):
    project = ProjectFactory(name="Loop project")
    UserFactory(username="lead", role=Role.LEAD)
    return project


def test_a_lead_starts_a_run_and_watches_its_progress(page, lead_setup):
    log_in(page, "lead")
    page.get_by_role("link", name="Active learning").click()
    expect(page.get_by_role("heading", name="Loop project: active learning")).to_be_visible()
    expect(page.get_by_test_id("no-active-run")).to_be_visible()
    page.get_by_role("button", name="Retrain and select the next generation").click()
    run = Run.objects.get()
    expect(page.get_by_role("status")).to_contain_text(f"Run {run.pk} queued")
    expect(page.get_by_test_id("stage")).to_have_text("Waiting for a worker")
    expect(
        page.get_by_role("button", name="Retrain and select the next generation")
    ).to_be_disabled()

    # a worker reports progress: the panel shows it without a reload
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING,
        stage="score",
        percent=82,
        progress_note="scoring 512/1,000",
        eta_seconds=40,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    expect(page.get_by_test_id("stage")).to_have_text("Scoring candidates", timeout=8000)
    # the percentage says what it is of, and the stage says what it is doing
    expect(page.get_by_test_id("percent")).to_have_text("run 82%")
    expect(page.get_by_test_id("progress-note")).to_have_text("scoring 512/1,000")
    expect(page.get_by_test_id("active-run")).to_contain_text("about 40 s left in this stage")

    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, stage="done", percent=100, finished_at=timezone.now()
    )
    expect(page.get_by_test_id("no-active-run")).to_be_visible(timeout=8000)
    expect(page.locator("#progress")).not_to_have_attribute("hx-trigger", "every 2s")
    page.reload()
    expect(page.locator("table").first).to_contain_text("Succeeded")
