"""The generate stage end to end with real Celery workers and Redis (as the loop's worker test):
a lead's trigger with "generate first" goes to the `gpu` queue, the worker samples, grades
(in its process's main thread, as math-verify needs) and stores, then trains, scores and
publishes."""

import time

from tests.active_learning.test_loop_worker import WAIT_SECONDS, Worker, scenario, wait_for
from tests.cli_db import query

_STATUS = "SELECT status FROM labeling_nextstepalternatives WHERE id = %s"

# the fixtures `loop_env` and `workers` come from the loop's worker test (conftest.py)


def test_a_run_with_a_generate_stage_runs_on_the_workers(loop_env, workers, tmp_path):
    env = loop_env
    setup = scenario(env, "setup", backbone=str(tmp_path / "tiny"), settings={"retrain_every": 0})
    project = setup["project"]
    folder = scenario(env, "tiny_generator", folder=str(tmp_path / "generator"))["folder"]
    started = [workers("gpu"), workers("default")]
    generate = {
        "model": folder,
        "samples_per_problem": 6,  # the pool's problems hold 5 candidates: they need samples
        "max_new_tokens": 12,
        "batch_size": 8,
        "temperature": 1.0,
    }
    scenario(env, "trigger", project=project, params={"generate": generate})
    state = wait_for(
        env,
        project,
        lambda s: s["runs"][-1]["status"] in ("succeeded", "failed"),
        "the run to finish",
        started,
    )
    run = state["runs"][-1]
    assert run["status"] == "succeeded", run["log"]
    assert {"generate", "train", "score", "select"} <= set(run["stage_seconds"])
    figures = run["throughput"]["generation"]
    assert figures["sampled"] == figures["requested"] > 0
    assert state["generated"] == figures["stored"] > 0
    assert "generated" in run["log"] and state["generation"] == 1


def test_a_phase1_request_is_answered_by_a_gpu_worker(loop_env, tmp_path):
    """Issue 18: an annotator off the known paths makes a pending request; the loop's
    subscriber sends it to the `gpu` queue and a real worker fills it with the project's
    generator (GENERATOR_MODEL here). Catches a request nobody answers (the page would wait
    forever), a task routed where no gpu worker listens, or one that fails on a worker."""
    folder = scenario(loop_env, "tiny_generator", folder=str(tmp_path / "generator"))["folder"]
    env = {**loop_env, "GENERATOR_MODEL": folder, "PHASE1_MAX_NEW_TOKENS": "8"}
    worker = Worker(env, "gpu", tmp_path / "worker-gpu.log")
    try:
        asked = scenario(env, "phase1_request", k=3)
        deadline = time.monotonic() + WAIT_SECONDS
        # SQL looks (milliseconds), not a scenario process per look (seconds of start-up)
        while time.monotonic() < deadline and query(env, _STATUS, (asked["alternatives"],)) == [
            ("pending",)
        ]:
            time.sleep(0.2)
        state = scenario(env, "phase1_state", alternatives=asked["alternatives"])
    finally:
        logs = worker.stop()[-4000:]
    assert state["status"] != "pending", f"never answered; worker log:\n{logs}"
    assert state["source"] == f"generator {folder}", state
    if state["status"] == "ready":
        assert 1 <= len(state["texts"]) <= 3
    else:  # a random tiny model may write nothing usable: a readable failure, not a hang
        assert "no usable next step" in state["error"], state
