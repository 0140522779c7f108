"""A real Celery worker process runs an import job and then an export job queued by another
process (Redis and the embedded filesystem broker), and reports progress in the job rows."""

import subprocess
import sys
import time
import uuid

import pytest

from tests.cli_db import query
from tests.conftest import PRM800K_SAMPLES, ROOT
from tests.labeling.test_worker_end_to_end import broker_env  # noqa: F401 (fixture)

WAIT_SECONDS = 120
CELERY = [sys.executable, "-m", "celery", "-A", "config", "worker"]
WORKER_OPTIONS = ["--concurrency", "1", "--loglevel", "WARNING"]


def shell(env, code: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_worker_runs_import_and_export_jobs(broker_env, tmp_path):  # noqa: F811
    env = {**broker_env, "JOBS_DIR": str(tmp_path / "jobs")}
    project = f"jobs-{uuid.uuid4().hex[:8]}"
    queue = f"test-{uuid.uuid4().hex[:8]}"
    upload = tmp_path / "prm800k_samples.jsonl"
    upload.write_bytes(PRM800K_SAMPLES.read_bytes())
    import_id = shell(
        env,
        "from django.core.files.uploadedfile import SimpleUploadedFile as F\n"
        "from unittest import mock\n"
        "from labeling.models import Project, User\n"
        "from labeling import jobs\n"
        f"p = Project.objects.create(name={project!r})\n"
        f"u = User.objects.create(username={project!r}, role='researcher')\n"
        "with mock.patch.object(jobs.import_job_run, 'delay'):\n"
        "    job = jobs.import_job_create(user=u, project=p, kind='prm800k',\n"
        f"        upload=F('prm800k_samples.jsonl', open({str(upload)!r}, 'rb').read()))\n"
        f"jobs.import_job_run.apply_async((job.pk,), queue={queue!r})\n"
        "print(job.pk)",
    )
    worker = subprocess.Popen(
        [*CELERY, "-Q", queue, *WORKER_OPTIONS, "-n", f"{queue}@%h"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status = wait_for(env, "ImportJob", import_id, worker)
        assert status.startswith("done 12 12"), status
        export_id = shell(
            env,
            "from labeling.models import ExportJob, Project, User\n"
            "from labeling.jobs import export_job_run\n"
            f"job = ExportJob.objects.create(project=Project.objects.get(name={project!r}),\n"
            f"    created_by=User.objects.get(username={project!r}), format='prm800k',\n"
            "    filters={'generation': 6})\n"
            f"export_job_run.apply_async((job.pk,), queue={queue!r})\n"
            "print(job.pk)",
        )
        status = wait_for(env, "ExportJob", export_id, worker)
        assert status.startswith("done 9 9"), status
    finally:
        worker.terminate()
        log = worker.communicate(timeout=30)[0]
    path = shell(
        env,
        f"from labeling.models import ExportJob; print(ExportJob.objects.get(pk={export_id}).file)",
    )
    lines = PRM800K_SAMPLES.read_text(encoding="utf-8").splitlines()
    with open(path, encoding="utf-8") as handle:
        exported = handle.read().splitlines()
    assert exported == [line for line in lines if '"generation": 6,' in line], log


def wait_for(env, model: str, job_id: str, worker) -> str:
    """ "status progress total error" of the job once done or failed. Looks with SQL every
    0.2 s: a manage.py shell per look took seconds of start-up from the worker's cores."""
    table = f"labeling_{model.lower()}"
    deadline = time.monotonic() + WAIT_SECONDS
    status = ""
    while time.monotonic() < deadline and worker.poll() is None:
        row = query(
            env, f"SELECT status, progress, total, error FROM {table} WHERE id = %s", (job_id,)
        )
        status = " ".join(map(str, row[0]))
        if row[0][0] in ("done", "failed"):
            return status
        time.sleep(0.2)
    pytest.fail(f"the worker did not finish {model} {job_id}: {status}")
