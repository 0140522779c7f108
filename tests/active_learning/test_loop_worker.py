"""The loop end to end with real Celery worker processes and a real Redis broker (CI runs it).

Another process labels through the REST API past the project's trigger; workers train, score
in chunks, select and publish; the annotator's next task comes from the new generation. Then a
worker is killed mid-run: the run is marked failed with its log, the previous model and
generation stay current, and a retry succeeds.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from tests.cli_db import query
from tests.conftest import ROOT

_RUN_FIELDS = ("id", "status", "stage", "percent")
_RUNS = (
    f"SELECT {', '.join(_RUN_FIELDS)} FROM active_learning_run WHERE project_id = %s ORDER BY id"
)
WAIT_SECONDS = 240  # CPU training of a tiny model is seconds; shared CI machines are slow
QUEUES = ("default", "gpu")


@pytest.fixture
def loop_env(cli_database, tmp_path, redis_url):
    import redis

    # Nothing left over from an earlier session (a killed worker's unacknowledged message
    # would come back to these workers).
    client = redis.Redis.from_url(redis_url)
    client.delete(*QUEUES, "unacked", "unacked_index", "unacked_mutex")
    env = {
        **cli_database,
        "REDIS_URL": redis_url,
        "PRM_MODELS_DIR": str(tmp_path / "models"),
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",  # several workers share a few cores: no thread oversubscription
    }
    yield env
    client.delete(*QUEUES, "unacked", "unacked_index", "unacked_mutex")


def scenario(env, command, **args) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "tests.active_learning.loop_scenario", command, json.dumps(args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


class Worker:
    def __init__(self, env, queues: str, log_path):
        self.log_path = log_path
        self.log = open(log_path, "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                queues,
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "-n",
                f"{queues.replace(',', '-')}-{uuid.uuid4().hex[:6]}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a kill reaches its children
        )

    def children(self) -> list[int]:
        found = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        )
        return [int(pid) for pid in found.stdout.split()]

    def kill_group(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self.log.close()
        return self.log_path.read_text()


@pytest.fixture
def workers(loop_env, tmp_path):
    started: list[Worker] = []

    def start(queues: str) -> Worker:
        worker = Worker(loop_env, queues, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_for(env, project, check, what, workers=()):
    """The project's full state (loop_scenario.state) once `check` holds. `check` sees only
    {"runs": [{"id", "status", "stage", "percent"}, ...]}, read with SQL every 0.2 s: a
    scenario process per look took seconds, from the workers too, and could miss a stage."""
    deadline = time.monotonic() + WAIT_SECONDS
    state = None
    while time.monotonic() < deadline:
        rows = query(env, _RUNS, (project,))
        state = {"runs": [dict(zip(_RUN_FIELDS, r, strict=True)) for r in rows]}
        if check(state):
            return scenario(env, "state", project=project)
        time.sleep(0.2)
    logs = "\n".join(w.log_path.read_text()[-4000:] for w in workers)
    pytest.fail(f"timed out waiting for {what}; last state {state}\nworker logs:\n{logs}")


def test_labels_past_the_trigger_retrain_and_publish_the_next_generation(
    loop_env, workers, tmp_path
):
    env = loop_env
    setup = scenario(
        env,
        "setup",
        backbone=str(tmp_path / "tiny"),
        settings={"retrain_every": 3, "score_chunk_size": 8, "batch_size": 6},
        earlier_run=True,
    )
    project, annotator = setup["project"], setup["annotator"]
    # two gpu workers (training on one, chunks spread over both) and one default worker
    started = [workers("gpu"), workers("gpu"), workers("default")]
    scenario(env, "label", project=project, annotator=annotator, count=2)
    assert len(scenario(env, "state", project=project)["runs"]) == 1  # below the trigger
    scenario(env, "label", project=project, annotator=annotator, count=1)
    state = wait_for(
        env,
        project,
        lambda s: s["runs"] and s["runs"][-1]["status"] in ("succeeded", "failed"),
        "the run to finish",
        started,
    )
    run = state["runs"][-1]
    assert run["status"] == "succeeded", run["log"]
    assert run["chunks_total"] == 4 and run["chunks_done"] == 4  # 27 candidates, chunks of 8
    assert state["current_model"] == run["model_version"] and state["generation"] == 1
    assert run["generation"] == 1 and "published generation 1" in run["log"]
    task = scenario(env, "next_task", project=project, annotator=annotator)
    assert task["generation"] == 1 and task["verifier_score"] is not None


def test_a_killed_worker_leaves_the_previous_model_current_and_a_retry_succeeds(
    loop_env, workers, tmp_path
):
    env = loop_env
    setup = scenario(env, "setup", backbone=str(tmp_path / "tiny"), settings={"retrain_every": 0})
    project = setup["project"]
    default_worker = workers("default")
    gpu = workers("gpu")
    first = scenario(env, "trigger", project=project)["run"]
    state = wait_for(
        env, project, lambda s: s["runs"][-1]["status"] == "succeeded", "the first run", [gpu]
    )
    good_model, good_generation = state["current_model"], state["generation"]

    # 1. the worker's pool process dies mid-training: the message comes back (acks_late,
    # reject_on_worker_lost) and the redelivery fails the run instead of running it twice
    # slow enough (tens of seconds even on a quiet machine) that polling, one manage.py
    # process per look, sees the training stage of this run and of its retry before they end
    slow = {"training_mode": "full", "epochs": 60, "train": {"patience": 100000}}
    second = scenario(env, "trigger", project=project, params=slow)["run"]
    wait_for(
        env,
        project,
        lambda s: s["runs"][-1]["stage"] == "train" and s["runs"][-1]["percent"] > 0,
        "training to start",
        [gpu],
    )
    for child in gpu.children():
        os.kill(child, signal.SIGKILL)
    state = wait_for(
        env, project, lambda s: s["runs"][-1]["status"] == "failed", "the run to fail", [gpu]
    )
    failed = state["runs"][-1]
    assert failed["id"] == second and "delivered again" in failed["error"]
    assert state["current_model"] == good_model and state["generation"] == good_generation

    # 2. the whole worker is killed mid-training: nothing comes back soon, so the watchdog
    # fails the run once it has been silent past the stale limit
    third = scenario(env, "retry", run=second)["run"]
    wait_for(
        env,
        project,
        lambda s: s["runs"][-1]["stage"] == "train" and s["runs"][-1]["percent"] > 0,
        "the retry to train",
        [gpu],
    )
    gpu.kill_group()
    time.sleep(3)
    assert scenario({**env, "ACTIVE_LEARNING_STALE_SECONDS": "2"}, "watchdog")["failed"] == [third]
    state = scenario(env, "state", project=project)
    failed = state["runs"][-1]
    assert failed["status"] == "failed" and "no sign of life" in failed["error"]
    assert "training a new PRM version" in failed["log"]  # its log is kept
    assert state["current_model"] == good_model and state["generation"] == good_generation
    assert dict(state["versions"])[failed["model_version"]] == "failed"

    # 3. a retry on a fresh worker starts cleanly and publishes
    workers("gpu")
    fast = scenario(env, "retry", run=third)["run"]
    state = wait_for(
        env,
        project,
        lambda s: s["runs"][-1]["id"] == fast and s["runs"][-1]["status"] == "succeeded",
        "the retry",
        [default_worker],
    )
    assert state["current_model"] not in (None, good_model)
    assert state["generation"] == good_generation + 1
    assert first < second < third < fast
