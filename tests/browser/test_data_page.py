"""A researcher imports and exports in a real browser: the upload progress bar, the import job's
progress and per-line error report, and an export downloaded when done."""

import json

import pytest
from playwright.sync_api import expect

from config.celery import app as celery_app
from labeling.models import Labeling, Problem, Project, Role
from tests.browser.conftest import log_in
from tests.conftest import PRM800K_SAMPLES
from tests.factories import UserFactory


@pytest.fixture
def researcher_setup(transactional_db, settings, tmp_path):
    settings.JOBS_DIR = tmp_path / "jobs"
    # The live server runs queued jobs in-process, right after the request that queued them.
    celery_app.conf.task_always_eager = True
    project = Project.objects.create(name="Research")
    user = UserFactory(username="res", role=Role.RESEARCHER)
    project.members.add(user)
    yield project
    celery_app.conf.task_always_eager = False


def choose_file(page, name: str, data: bytes):
    page.locator("[name=import-file]").set_input_files(
        {"name": name, "mimeType": "application/octet-stream", "buffer": data}
    )


def test_upload_with_progress_and_a_per_line_error_report(page, researcher_setup):
    project = researcher_setup
    log_in(page, "res")
    page.goto(f"/projects/{project.pk}/data/")

    bad = b'{"problem": "Fine?"}\n{"problem": 5}\n{"solution": "no problem"}\n'
    page.locator("[name=import-kind]").select_option("problems")
    choose_file(page, "bad.jsonl", bad)
    page.get_by_role("button", name="Upload and import").click()
    errors = page.locator("[data-import-errors] li")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_have_text("bad.jsonl:2: problem: must be a string, got int")
    expect(errors.nth(1)).to_have_text("bad.jsonl:3: problem: missing")
    expect(page.locator("[data-import-summary]")).to_contain_text("nothing was imported")
    assert not Problem.objects.exists()

    choose_file(page, "labels.jsonl", PRM800K_SAMPLES.read_bytes())
    page.locator("[name=import-kind]").select_option("prm800k")
    page.get_by_role("button", name="Upload and import").click()
    expect(page.locator("[data-import-summary]")).to_contain_text("Imported 12 labelings")
    progress = page.locator("[data-import-progress]")
    expect(progress).to_have_attribute("value", "12")
    expect(progress).to_have_attribute("max", "12")
    assert Labeling.objects.filter(project=project).count() == 12
    # the jobs table below lists both imports
    expect(page.locator("[data-testid=imports] tbody tr")).to_have_count(2)


def test_an_export_is_queued_then_downloaded(page, researcher_setup, tmp_path):
    from labeling.services.prm800k import prm800k_import

    project = researcher_setup
    with open(PRM800K_SAMPLES, "rb") as stream:
        prm800k_import(stream=stream, name="s.jsonl", project_name=project.name)
    log_in(page, "res")
    page.goto(f"/projects/{project.pk}/data/")
    page.locator("[name=export-format]").select_option("prm800k")
    page.locator("[name=export-generation]").fill("6")
    page.get_by_role("button", name="Start export").click()
    row = page.locator("[data-testid=exports] tbody tr").first
    expect(row.locator("[data-status]")).to_have_text("done")
    with page.expect_download() as download_info:
        row.get_by_role("link", name="Download").click()
    path = tmp_path / "download.jsonl"
    download_info.value.save_as(path)
    lines = PRM800K_SAMPLES.read_text(encoding="utf-8").splitlines()
    expected = [line for line in lines if json.loads(line)["generation"] == 6]
    assert path.read_text(encoding="utf-8").splitlines() == expected
