"""A real Celery worker process picks up work sent by another process, through the embedded
filesystem broker (the demo) and through Redis (production and CI)."""

import os
import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import PRM800K_SAMPLES, ROOT

WAIT_SECONDS = 90


@pytest.fixture(params=["filesystem", "redis"])
def broker_env(request, cli_database, tmp_path):
    env = dict(cli_database)
    if request.param == "filesystem":
        env.pop("REDIS_URL", None)
        env["CELERY_BROKER_DIR"] = str(tmp_path / "broker")
        for folder in ("queue", "processed"):
            (tmp_path / "broker" / folder).mkdir(parents=True)
    else:
        if not os.environ.get("REDIS_URL"):
            message = "needs Redis: set REDIS_URL"
            if os.environ.get("CI"):
                pytest.fail(f"{message} (CI must run every test against Redis)")
            pytest.skip(message)
        # a queue of its own, so a stray worker on the same Redis cannot take the task
    return env


def _written(folder):
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


def test_a_worker_process_runs_an_export_sent_from_another_process(broker_env, manage, tmp_path):
    project = f"worker-{uuid.uuid4().hex[:8]}"
    queue = f"test-{uuid.uuid4().hex[:8]}"
    assert manage("import_prm800k", PRM800K_SAMPLES, "--project", project).returncode == 0
    broker_env["JOBS_DIR"] = str(tmp_path / "jobs")
    exports = tmp_path / "jobs" / "exports"
    send = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            # an export job (labeling/jobs.py), the one background PRM800K writer path
            "from labeling.models import ExportJob, Project, User; from labeling.jobs import"
            f" export_job_run as task; u = User.objects.create(username={project!r});"
            f" job = ExportJob.objects.create(project=Project.objects.get(name={project!r}),"
            " created_by=u, format='prm800k');"
            f" task.apply_async((job.pk,), queue={queue!r})",
        ],
        cwd=ROOT,
        env=broker_env,
        capture_output=True,
        text=True,
    )
    assert send.returncode == 0, send.stderr
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queue,
            "--concurrency",
            "1",
            "--loglevel",
            "WARNING",
            "-n",
            f"{queue}@%h",
        ],
        cwd=ROOT,
        env=broker_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        # the export is written to a .partial name and renamed when complete
        while not _written(exports) and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.3)
    finally:
        worker.terminate()
        log = worker.communicate(timeout=30)[0]
    assert _written(exports), f"the worker did not run the task; its log:\n{log}"
    assert _written(exports)[0].read_bytes() == PRM800K_SAMPLES.read_bytes()
