#!/usr/bin/env python
"""The fault run of issue 13 (docs/reliability.md): N simulated annotators label through the
real HTTP API while, one after another, the training worker is killed mid-training, Redis
restarts, PostgreSQL restarts and a web process is killed. Then every acknowledged rating and
submit is checked against the database.

    .venv/bin/python bench/bench_faults.py                       # 100 annotators, the record
    .venv/bin/python bench/bench_faults.py --annotators 10 --phase 10   # a smoke run

Everything runs on servers of its own, none shared: a PostgreSQL cluster (`initdb` into a
temporary folder, ports 5431-5439) and a Redis with append-only persistence (as compose runs
it; ports 6431-6439), both from tests/private_services.py; gunicorn (2 gthread workers x 4
threads, persistent database connections) on 8131-8139; a `default` Celery worker, a `gpu`
worker and beat, with a 60 s stale limit for runs (ACTIVE_LEARNING_STALE_SECONDS).

Annotators (asyncio, one connection each, bench/bench_labeling.py's HTTP client and task plans)
loop next -> a draft save per rated step -> submit, thinking --think seconds (uniform 0.5x-1.5x)
between actions. A failed request (connection error or 5xx) is sent again after its Retry-After
(at most 2 s), as the task page's save queue does; only a 200 counts as acknowledged.

Faults, each after --phase seconds of load: (1) the gpu worker's whole process group is killed
(SIGKILL) while a run trains (a tiny model, from tests/active_learning/loop_scenario.py), and a
new gpu worker started; (2) Redis is stopped and started again (down --down seconds);
(3) PostgreSQL likewise; (4) one gunicorn worker process is killed (SIGKILL; the master starts
another). Per fault: requests that failed and how (503, other 5xx, connection errors), the span
of time requests failed (unavailability), and the state afterwards (workers alive and
answering a ping, the killed run failed by the watchdog and when).

Checked at the end, from the database: lost = an acknowledged rating not stored as
acknowledged, or an acknowledged submit not submitted; doubled = two submitted labelings of
one solution by one annotator, or a labeling with more rating rows than rated steps.
Results: bench/out/faults/<time>/result.json and report.md (also printed).
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO))

from bench_labeling import Http, HttpError, task_plan, write_solutions  # noqa: E402

from tests.private_services import PostgresServer, RedisServer, WebServer  # noqa: E402

PYTHON = sys.executable
PROJECT = "faults"
RETRY_CAP = 2.0  # seconds: the longest a client waits before sending a failed request again
STALE_SECONDS = 60


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, file=sys.stderr, flush=True)


def manage(env, *args, check=True) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", *map(str, args)], cwd=REPO, env=env, capture_output=True, text=True
    )
    if check and done.returncode:
        sys.exit(f"manage.py {' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def scenario(env, command, **args) -> dict:
    done = subprocess.run(
        [PYTHON, "-m", "tests.active_learning.loop_scenario", command, json.dumps(args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"{command}: {done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class Celery:
    """A Celery process (worker or beat) in a process group of its own, so a kill reaches the
    pool's children too."""

    def __init__(self, env, args: list[str], log_path: Path):
        self.log = open(log_path, "a")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "celery", "-A", "config", *args],
            cwd=REPO,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def ping(env, name: str) -> bool:
    done = subprocess.run(
        [PYTHON, "-m", "celery", "-A", "config", "inspect", "ping", "-d", name, "--timeout", "5"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    return "pong" in done.stdout


# --- the annotators ----------------------------------------------------------------------------


@dataclass
class Annotator:
    name: str
    token: str
    rng: random.Random
    acked: dict = field(default_factory=dict)  # assignment -> ratings of the last acked draft
    submitted: dict = field(default_factory=dict)  # assignment -> finish reason (acked)


@dataclass
class Outcome:
    t: float
    kind: str
    status: int  # 0: connection error


async def annotator_loop(a: Annotator, ctx: dict, outcomes: list, stop: asyncio.Event):
    http = Http("127.0.0.1", ctx["port"])
    headers = {
        "Authorization": f"Token {a.token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }

    async def wait(seconds):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)

    async def call(kind, method, path, payload):
        """Send until acknowledged (200/204) or a 4xx, or the run stops; None if it stopped."""
        while not stop.is_set():
            try:
                resp = await http.request(method, path, headers, json.dumps(payload).encode())
            except (OSError, asyncio.IncompleteReadError, HttpError, ValueError, IndexError):
                outcomes.append(Outcome(time.monotonic(), kind, 0))
                await http.close()
                await wait(0.5)
                continue
            outcomes.append(Outcome(time.monotonic(), kind, resp.status))
            if resp.status >= 500:
                retry = float(resp.headers.get("retry-after", "0.5") or 0.5)
                await wait(min(retry, RETRY_CAP))
                continue
            return resp
        return None

    async def think():
        await wait(a.rng.uniform(0.5, 1.5) * ctx["think"])

    await wait(a.rng.uniform(0, ctx["think"] or 0.2))
    try:
        while not stop.is_set():
            resp = await call("next", "POST", "/api/assignments/next/", {"project": ctx["project"]})
            if resp is None:
                return
            if resp.status == 204:
                await wait(1.0)
                continue
            if resp.status != 200:
                await wait(1.0)
                continue
            task = json.loads(resp.body)
            assignment = task["id"]
            plan = task_plan(a.rng, ctx["steps"][task["solution"]])
            total_ms = 0
            for k in range(1, len(plan) + 1):
                await think()
                total_ms += 1000
                resp = await call(
                    "draft",
                    "PUT",
                    f"/api/assignments/{assignment}/draft/",
                    {"steps": plan[:k], "total_time_ms": total_ms},
                )
                if resp is None:
                    return
                if resp.status == 200:
                    a.acked[assignment] = [m["rating"] for m in plan[:k]]
            await think()
            reason = "found_error" if plan[-1]["rating"] == -1 else "solution"
            resp = await call(
                "submit",
                "POST",
                f"/api/assignments/{assignment}/submit/",
                {"finish_reason": reason, "total_time_ms": total_ms + 500},
            )
            if resp is None:
                return
            if resp.status == 200:
                a.submitted[assignment] = reason
    finally:
        await http.close()


# --- the faults --------------------------------------------------------------------------------


async def fault_training_worker(ctx) -> dict:
    env, loop = ctx["env"], ctx["loop"]
    slow = {"training_mode": "full", "epochs": 200, "train": {"patience": 100000}}
    run = await asyncio.to_thread(scenario, env, "trigger", project=loop["project"], params=slow)
    run_id = run["run"]
    deadline = time.monotonic() + 300
    state = {}
    while time.monotonic() < deadline:
        state = await asyncio.to_thread(scenario, env, "state", project=loop["project"])
        last = state["runs"][-1]
        if last["id"] == run_id and last["stage"] == "train" and last["percent"] > 0:
            break
        await asyncio.sleep(2)
    else:
        return {"error": f"the run never trained: {state.get('runs', [])[-1:]}"}
    t0 = time.monotonic()
    ctx["gpu"].kill()
    log("killed the gpu worker mid-training; starting another")
    ctx["gpu"] = Celery(env, ctx["gpu_args"], ctx["out"] / "worker-gpu.log")
    failed_after = None
    while time.monotonic() - t0 < STALE_SECONDS + 180:
        state = await asyncio.to_thread(scenario, env, "state", project=loop["project"])
        last = next(r for r in state["runs"] if r["id"] == run_id)
        if last["status"] == "failed":
            failed_after = round(time.monotonic() - t0, 1)
            break
        await asyncio.sleep(5)
    return {
        "fault_at": t0,
        "run": run_id,
        "run_failed_after_s": failed_after,
        "run_error": last.get("error", ""),
        "gpu_worker_alive": ctx["gpu"].alive(),
    }


async def fault_restart(ctx, server, name: str) -> dict:
    t0 = time.monotonic()
    await asyncio.to_thread(server.stop)
    log(f"{name} stopped")
    await asyncio.sleep(ctx["down"])
    await asyncio.to_thread(server.start)
    log(f"{name} started again")
    return {"fault_at": t0, "down_s": round(time.monotonic() - t0, 1)}


async def fault_web_process(ctx) -> dict:
    children = subprocess.run(
        ["pgrep", "-P", str(ctx["web"].proc.pid)], capture_output=True, text=True
    ).stdout.split()
    t0 = time.monotonic()
    if children:
        os.kill(int(children[0]), signal.SIGKILL)
        log(f"killed gunicorn worker {children[0]}")
    return {"fault_at": t0, "killed_pid": int(children[0]) if children else None}


def window_stats(outcomes: list[Outcome], start: float, end: float) -> dict:
    inside = [o for o in outcomes if start <= o.t < end]
    failed = [o for o in inside if o.status == 0 or o.status >= 500]
    return {
        "requests": len(inside),
        "ok": sum(1 for o in inside if o.status in (200, 204)),
        "status_503": sum(1 for o in failed if o.status == 503),
        "status_5xx_other": sum(1 for o in failed if o.status >= 500 and o.status != 503),
        "connection_errors": sum(1 for o in failed if o.status == 0),
        "other_4xx": sum(1 for o in inside if 400 <= o.status < 500),
        "unavailable_s": round(failed[-1].t - failed[0].t, 2) if failed else 0.0,
    }


# --- verification ------------------------------------------------------------------------------


def verify(annotators: list[Annotator]) -> dict:
    import django

    django.setup()
    from django.db.models import Count

    from labeling.models import Labeling, LabelingStatus, StepRating

    acked = {k: v for a in annotators for k, v in a.acked.items()}
    submitted = {k: v for a in annotators for k, v in a.submitted.items()}
    rows = Labeling.objects.in_bulk(list(acked) + list(submitted))
    lost_ratings, lost_submits, examples = 0, 0, []
    for assignment, ratings in acked.items():
        row = rows.get(assignment)
        stored = [s["completions"][0]["rating"] for s in row.steps] if row else []
        if stored[: len(ratings)] != ratings:
            missing = sum(1 for i, r in enumerate(ratings) if i >= len(stored) or stored[i] != r)
            lost_ratings += missing
            examples.append({"assignment": assignment, "acked": ratings, "stored": stored})
    for assignment, reason in submitted.items():
        row = rows.get(assignment)
        if row is None or row.status != LabelingStatus.SUBMITTED or row.finish_reason != reason:
            lost_submits += 1
            examples.append({"assignment": assignment, "submit": reason, "row": str(row)})
    doubled_labelings = (
        Labeling.objects.filter(project__name=PROJECT, status=LabelingStatus.SUBMITTED)
        .values("labeler", "solution")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    doubled_ratings = 0
    counts = dict(
        StepRating.objects.filter(labeling__project__name=PROJECT)
        .values_list("labeling")
        .annotate(n=Count("id"))
    )
    for labeling in Labeling.objects.filter(
        project__name=PROJECT, status=LabelingStatus.SUBMITTED
    ).only("steps"):
        rated = sum(1 for s in labeling.steps if s["completions"][0]["rating"] is not None)
        doubled_ratings += max(0, counts.get(labeling.pk, 0) - rated)
    return {
        "ratings_acknowledged": sum(len(r) for r in acked.values()),
        "submits_acknowledged": len(submitted),
        "lost_ratings": lost_ratings,
        "lost_submits": lost_submits,
        "doubled_labelings": doubled_labelings,
        "doubled_rating_rows": doubled_ratings,
        "examples": examples[:10],
    }


# --- the run -----------------------------------------------------------------------------------


def setup(args, out: Path, pg: PostgresServer, redis: RedisServer) -> tuple[dict, dict]:
    import psycopg

    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE faults")
    db_url = pg.url.rsplit("/", 1)[0] + "/faults"
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis.url,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "0",
        "DATABASE_CONN_MAX_AGE": "60",
        "PRM_MODELS_DIR": str(out / "models"),
        "ACTIVE_LEARNING_STALE_SECONDS": str(STALE_SECONDS),
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
    }
    env.pop("CACHE_URL", None)
    log("migrating")
    manage(env, "migrate", "--no-input", "-v", "0")
    pool = out / "solutions.jsonl"
    write_solutions(pool, args.solutions, args.seed, steps_range=(4, 10))
    manage(env, "import_solutions", pool, "--project", PROJECT)
    log("creating annotators and the loop project")
    code = (
        "import json; from labeling.models import Project, Solution; "
        "from labeling.services.users import user_create; "
        "from active_learning.models import LoopSettings; "
        f"p = Project.objects.get(name={PROJECT!r}); p.qc_rate = 0; p.save(); "
        # no automatic retraining on this project's labels: the gpu worker stays free for the
        # loop project's run that fault (1) kills
        "LoopSettings.objects.update_or_create(project=p, defaults={'retrain_every': 0}); "
        f"tokens = {{f'fault-ann{{i:03d}}': user_create(username=f'fault-ann{{i:03d}}', "
        f"role='annotator', project=p)[1].key for i in range({args.annotators})}}; "
        "steps = {s.pk: len(s.steps) for s in Solution.objects.filter(problem__project=p)}; "
        "print(json.dumps({'project': p.pk, 'tokens': tokens, 'steps': steps}))"
    )
    data = json.loads(manage(env, "shell", "-c", code).strip().splitlines()[-1])
    loop = scenario(
        env, "setup", backbone=str(out / "tiny-backbone"), settings={"retrain_every": 0}
    )
    return env, {**data, "loop": loop}


async def main_async(args, out: Path) -> dict:
    pg = PostgresServer()
    redis = RedisServer(out / "redis")
    result: dict = {"args": vars(args), "faults": {"before faults": {}}}
    try:
        pg.start()
        redis.start()
        env, data = setup(args, out, pg, redis)
        web = WebServer(env, out / "web.log", REPO, workers=2)
        web.start()
        default_args = ["worker", "-Q", "default", "--concurrency", "2", "-n", "default@%h"]
        gpu_args = ["worker", "-Q", "gpu", "--concurrency", "1", "-n", "gpu@%h"]
        default = Celery(env, [*default_args, "--loglevel", "INFO"], out / "worker-default.log")
        beat_args = ["beat", "--schedule", str(out / "beat-schedule"), "--loglevel", "INFO"]
        beat = Celery(env, beat_args, out / "beat.log")
        ctx = {
            "env": env,
            "out": out,
            "port": web.port,
            "project": data["project"],
            "steps": {int(k): v for k, v in data["steps"].items()},
            "think": args.think,
            "down": args.down,
            "loop": data["loop"],
            "web": web,
            "gpu_args": [*gpu_args, "--loglevel", "INFO"],
        }
        ctx["gpu"] = Celery(env, ctx["gpu_args"], out / "worker-gpu.log")
        rng = random.Random(args.seed)
        annotators = [
            Annotator(name, token, random.Random(rng.random()))
            for name, token in data["tokens"].items()
        ]
        outcomes: list[Outcome] = []
        stop = asyncio.Event()
        log(f"load: {len(annotators)} annotators, think {args.think} s")
        started = time.monotonic()
        tasks = [asyncio.create_task(annotator_loop(a, ctx, outcomes, stop)) for a in annotators]
        await asyncio.sleep(args.phase)
        marks = [("before faults", started)]

        result["faults"]["training worker killed"] = await fault_training_worker(ctx)
        marks.append(("training worker killed", result["faults"]["training worker killed"].get(
            "fault_at", time.monotonic())))  # fmt: skip
        await asyncio.sleep(args.phase)

        info = await fault_restart(ctx, redis, "Redis")
        marks.append(("Redis restart", info["fault_at"]))
        await asyncio.sleep(args.phase)
        info["default_worker_alive"] = default.alive()
        info["gpu_worker_alive"] = ctx["gpu"].alive()
        info["default_worker_answers_ping"] = await asyncio.to_thread(
            ping, env, "default@" + os.uname().nodename
        )
        info["gpu_worker_answers_ping"] = await asyncio.to_thread(
            ping, env, "gpu@" + os.uname().nodename
        )
        result["faults"]["Redis restart"] = info

        info = await fault_restart(ctx, pg, "PostgreSQL")
        marks.append(("PostgreSQL restart", info["fault_at"]))
        await asyncio.sleep(args.phase)
        result["faults"]["PostgreSQL restart"] = info

        info = await fault_web_process(ctx)
        marks.append(("web process killed", info["fault_at"]))
        await asyncio.sleep(args.phase)
        result["faults"]["web process killed"] = info

        stop.set()
        await asyncio.gather(*tasks)
        ended = time.monotonic()
        marks.append(("end", ended))
        for (name, start), (_, end) in itertools.pairwise(marks):
            result["faults"].setdefault(name, {}).update(window_stats(outcomes, start, end))
        result["load"] = {
            "annotators": len(annotators),
            "seconds": round(ended - started, 1),
            "requests": len(outcomes),
            "requests_per_s": round(len(outcomes) / (ended - started), 1),
        }
        result["workers_alive_at_end"] = {
            "default": default.alive(),
            "gpu": ctx["gpu"].alive(),
            "beat": beat.alive(),
        }
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")})
        os.environ["REDIS_URL"] = env["REDIS_URL"]
        result["check"] = await asyncio.to_thread(verify, annotators)
        for proc in (default, ctx["gpu"], beat):
            proc.stop()
        web.stop()
    finally:
        redis.stop()
        pg.remove()
    return result


def report(result: dict) -> str:
    c, load = result["check"], result["load"]
    lines = [
        f"Fault run ({result['when']}, load average before {result['load_before']}, after "
        f"{result['load_after']}): {load['annotators']} annotators, {load['seconds']} s, "
        f"{load['requests']} requests ({load['requests_per_s']}/s).",
        "",
        "| acknowledged ratings | acknowledged submits | lost ratings | lost submits | "
        "doubled labelings | doubled rating rows |",
        "|---|---|---|---|---|---|",
        f"| {c['ratings_acknowledged']} | {c['submits_acknowledged']} | {c['lost_ratings']} | "
        f"{c['lost_submits']} | {c['doubled_labelings']} | {c['doubled_rating_rows']} |",
        "",
        "| phase | requests | 503 | other 5xx | connection errors | unavailable (s) | after |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, f in result["faults"].items():
        after = []
        if "run_failed_after_s" in f:
            after.append(f"run failed by the watchdog after {f['run_failed_after_s']} s")
        if "default_worker_alive" in f:
            after.append(
                "default worker "
                + ("alive" if f["default_worker_alive"] else "DEAD")
                + (", answers ping" if f.get("default_worker_answers_ping") else ", NO ping")
                + "; gpu worker "
                + ("alive" if f["gpu_worker_alive"] else "DEAD")
            )
        lines.append(
            f"| {name} | {f.get('requests', 0)} | {f.get('status_503', 0)} | "
            f"{f.get('status_5xx_other', 0)} | {f.get('connection_errors', 0)} | "
            f"{f.get('unavailable_s', 0)} | {'; '.join(after)} |"
        )
    alive = result["workers_alive_at_end"]
    lines += ["", f"Workers alive at the end: {alive}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--annotators", type=int, default=100)
    ap.add_argument("--solutions", type=int, default=3000)
    ap.add_argument("--think", type=float, default=2.0, help="mean seconds between actions")
    ap.add_argument("--phase", type=float, default=30.0, help="seconds of load around faults")
    ap.add_argument("--down", type=float, default=3.0, help="seconds a restarted server is down")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=str(BENCH / "out" / "faults"))
    args = ap.parse_args(argv)
    out = Path(args.out) / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True)
    load_before = os.getloadavg()
    result = asyncio.run(main_async(args, out))
    result["when"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    result["load_before"] = [round(x, 2) for x in load_before]
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    (out / "result.json").write_text(json.dumps(result, indent=2, default=str))
    text = report(result)
    (out / "report.md").write_text(text)
    print(text)
    c = result["check"]
    ok = not (c["lost_ratings"] or c["lost_submits"] or c["doubled_labelings"])
    ok = ok and not c["doubled_rating_rows"] and all(result["workers_alive_at_end"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
