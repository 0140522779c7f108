"""The loop's pages and API over HTTP: access by role, triggers, progress, history,
generations and models, settings, and /healthz."""

import pytest

from active_learning import pipeline
from active_learning.models import LoopSettings, Run, RunStatus
from labeling.models import Role
from tests.active_learning.conftest import loop_project
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(client):
    user = UserFactory(role=Role.LEAD)
    client.force_login(user)
    return user


def login(client, role):
    user = UserFactory(role=role)
    client.force_login(user)
    return user


PAGES = ["/projects/{p}/loop/", "/projects/{p}/generations/"]
POSTS = ["/projects/{p}/loop/run/", "/projects/{p}/loop/grade/", "/projects/{p}/loop/settings/"]


def test_annotators_get_403_on_every_loop_page_and_endpoint(client):
    project = ProjectFactory()
    user = login(client, Role.ANNOTATOR)
    project.members.add(user)
    for url in PAGES + POSTS:
        method = client.get if url in PAGES else client.post
        assert method(url.format(p=project.pk)).status_code == 403, url
    for url in ["/api/projects/{p}/runs/", "/api/projects/{p}/loop-settings/"]:
        assert client.get(url.format(p=project.pk)).status_code == 403
        assert client.post(url.format(p=project.pk), {}).status_code == 403
    assert not Run.objects.exists()


def test_researchers_read_but_cannot_trigger(client):
    project = ProjectFactory()
    user = login(client, Role.RESEARCHER)
    project.members.add(user)
    assert client.get(f"/projects/{project.pk}/loop/").status_code == 200
    assert client.get(f"/api/projects/{project.pk}/runs/").status_code == 200
    assert client.post(f"/projects/{project.pk}/loop/run/").status_code == 403
    assert client.post(f"/api/projects/{project.pk}/runs/", {}).status_code == 403
    other = ProjectFactory()  # not a member
    assert client.get(f"/projects/{other.pk}/loop/").status_code == 404
    assert not Run.objects.exists()


def test_a_lead_triggers_a_run_and_a_second_trigger_is_refused(client, lead):
    project = ProjectFactory()
    response = client.post(f"/projects/{project.pk}/loop/run/", follow=True)
    run = Run.objects.get()
    html = response.content.decode()
    assert f"Run {run.pk} queued" in html and run.requested_by == lead
    response = client.post(f"/projects/{project.pk}/loop/run/", follow=True)
    assert "one run at a time per project" in response.content.decode()
    assert Run.objects.count() == 1
    # the page polls the progress panel while the run is active; htmx gets only the panel
    page = client.get(f"/projects/{project.pk}/loop/").content.decode()
    assert 'hx-trigger="every 2s"' in page and 'data-testid="active-run"' in page
    panel = client.get(f"/projects/{project.pk}/loop/", HTTP_HX_REQUEST="true")
    text = panel.content.decode()
    assert 'id="progress"' in text and "Run history" not in text and "Waiting for" in text


def test_with_the_broker_down_the_page_says_jobs_are_paused_and_a_trigger_is_kept(
    client, lead, broker_down
):
    project = ProjectFactory()
    page = client.get(f"/projects/{project.pk}/loop/").content.decode()
    assert "Background jobs paused" in page
    response = client.post(f"/projects/{project.pk}/loop/run/", follow=True)
    assert "background jobs are paused" in response.content.decode()
    run = Run.objects.get()
    assert run.status == RunStatus.QUEUED and run.dispatched_at is None


def test_settings_are_saved_and_bad_input_keeps_what_was_typed(client, lead):
    project = ProjectFactory()
    form = {
        "retrain_every": "25",
        "batch_size": "50",
        "per_problem_cap": "3",
        "wrong_share": "0.7",
        "strategy": "uniform",
        "seed": "5",
        "training_mode": "lora",
        "epochs": "2",
        "backbone": "",
        "keep_layers": "",
        "score_chunk_size": "100",
        "schedule_minutes": "60",
    }
    response = client.post(f"/projects/{project.pk}/loop/settings/", form)
    assert response.status_code == 302
    saved = LoopSettings.objects.get(project=project)
    assert (saved.retrain_every, saved.strategy, saved.training_mode) == (25, "uniform", "lora")
    response = client.post(
        f"/projects/{project.pk}/loop/settings/", {**form, "wrong_share": "1.5", "seed": "77"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "must be between 0 and 1" in html and 'value="77"' in html
    saved.refresh_from_db()
    assert saved.wrong_share == 0.7 and saved.seed == 5


def test_history_run_detail_generations_and_models(client, lead, tiny_backbone, loop_models_dir):
    project, _ = loop_project(tiny_backbone)
    run = pipeline.run_round(project)
    page = client.get(f"/projects/{project.pk}/loop/").content.decode()
    assert f"/projects/{project.pk}/runs/{run.pk}/" in page and "Succeeded" in page
    assert 'data-testid="no-active-run"' in page and "hx-trigger" not in page
    detail = client.get(f"/projects/{project.pk}/runs/{run.pk}/").content.decode()
    assert "published generation 1" in detail and "train" in detail
    version = run.model_version
    # which ~10% of solutions are held out depends on their ids: set the evaluation explicitly
    version.metrics = {
        **version.metrics,
        "held_out_step_roc_auc": 0.75,
        "processbench": {"step_roc_auc": 0.625, "first_error": {"f1": 0.5}},
    }
    version.save()
    html = client.get(f"/projects/{project.pk}/generations/").content.decode()
    labels = version.data_snapshot["labelings"]
    assert "<svg" in html and f"held-out step ROC AUC: 0.750 at {labels} labels" in html
    assert f"ProcessBench first-error F1: 0.500 at {labels} labels" in html
    assert f"model v{run.model_version_id}" in html and "(current)" in html
    # generation 1: 8 solutions, all wrong answers (cap 2 per problem, 80% wrong)
    row = html.split('data-testid="generations"')[1].split("<tr>")[2]
    assert "<td>1</td>" in row and "<td>8</td>" in row and "<td>1.00</td>" in row
    assert client.get(f"/projects/{project.pk}/runs/999999/").status_code == 404


def test_api_lists_triggers_and_shows_runs(client, lead):
    project = ProjectFactory()
    response = client.post(
        f"/api/projects/{project.pk}/runs/",
        {"batch_size": 5, "strategy": "uniform", "train": {"learning_rate": 0.01}},
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["params"]["batch_size"] == 5
    assert body["params"]["train"] == {"learning_rate": 0.01} and body["trigger"] == "api"
    again = client.post(f"/api/projects/{project.pk}/runs/", {}, content_type="application/json")
    assert again.status_code == 409 and "one run at a time" in again.json()["detail"]
    listing = client.get(f"/api/projects/{project.pk}/runs/").json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == body["id"]
    detail = client.get(f"/api/runs/{body['id']}/").json()
    assert "queued" in detail["log"]
    bad = client.post(
        f"/api/projects/{project.pk}/runs/", {"wrong_share": 3}, content_type="application/json"
    )
    assert bad.status_code == 400 and "wrong_share" in bad.json()
    cancel = client.post(f"/api/runs/{body['id']}/cancel/")
    assert cancel.status_code == 200 and cancel.json()["status"] == "failed"
    retry = client.post(f"/api/runs/{body['id']}/retry/")
    assert retry.status_code == 202 and retry.json()["retry_of"] == body["id"]


def test_api_loop_settings(client, lead):
    project = ProjectFactory()
    url = f"/api/projects/{project.pk}/loop-settings/"
    assert client.get(url).json()["retrain_every"] == 50
    response = client.patch(
        url, {"retrain_every": 10, "strategy": "uniform"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["strategy"] == "uniform"
    bad = client.patch(url, {"wrong_share": -1}, content_type="application/json")
    assert bad.status_code == 400 and "wrong_share" in bad.json()
    assert LoopSettings.objects.get(project=project).retrain_every == 10


def test_api_grade_queues_or_says_the_broker_is_down(client, lead, broker_down):
    project = ProjectFactory()
    response = client.post(f"/api/projects/{project.pk}/grade/", {})
    assert response.status_code == 503 and response.json()["queued"] is False


def test_healthz_reports_database_broker_and_workers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"] and body["broker"]["ok"] and body["status"] == "ok"
    assert isinstance(body["workers"], list)
    # no worker answers in the test process: a required queue makes it unhealthy
    response = client.get("/healthz?queues=gpu")
    assert response.status_code == 503 and response.json()["queues_without_workers"] == ["gpu"]


def test_healthz_is_503_when_the_broker_is_down(client, broker_down):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["broker"]["ok"] is False and "Connection refused" in body["broker"]["error"]
