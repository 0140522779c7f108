#!/usr/bin/env python
"""Benchmarks of issue 4 (assignment queue under 50 concurrent annotators) and issue 5 (project
statistics API and lead dashboard at a million step ratings), on PostgreSQL behind gunicorn.

Sub-commands (each works on one scratch database, which setup-* DROPS and re-creates):

    # (A) queue: 100k solutions in generation 0 (ranks 1..100k), 100k submitted labelings with
    #     ~1M StepRating rows, 50 annotators with API tokens; then 50 asyncio clients looping
    #     next -> draft (all steps Positive) -> submit against gunicorn (4 sync workers)
    python bench/bench_queue_stats.py setup-queue --db bench_queue
    python bench/bench_queue_stats.py queue --db bench_queue --duration 60 --think 0
    python bench/bench_queue_stats.py queue --db bench_queue --duration 60 --qc-rate 0.1

    # (B) statistics: 100k PRM800K labelings (30k solutions x 3 labelers + 10k single ones,
    #     ~1M ratings) imported with `manage.py import_prm800k`; then cold / warm / sustained
    #     timings of GET /api/projects/<id>/stats/ and GET /projects/<id>/stats/, and staleness
    #     after a submit, with the per-process local-memory cache or the shared Redis cache
    python bench/bench_queue_stats.py setup-stats --db bench_stats
    python bench/bench_queue_stats.py stats --db bench_stats --cache locmem
    python bench/bench_queue_stats.py stats --db bench_stats --cache redis [--celery]
    python bench/bench_queue_stats.py profile-stats --db bench_stats   # cProfile of one compute

Every timed phase first waits (polling every 15 s, at most 20 minutes) until no other benchmark
(`bench_labeling.py`, `bench_import_export.py`, `bench_prm_cpu.py`, `.ci/run`) runs and the
1-minute load average is under 1.0; the result records whether that happened and what else used
the CPU during the run. Results (JSON + a Markdown fragment) go to bench/out/queue-stats/.

The server is `gunicorn --pythonpath bench timing_wsgi:application` (bench/timing_wsgi.py wraps
config.wsgi and adds `Server-Timing: app;dur=..., db;dur=...` and `X-Queries`), 4 sync workers,
DJANGO_SETTINGS_MODULE=config.settings.local, DJANGO_DEBUG=0, no REDIS_URL unless --cache redis.
Celery's broker (filesystem transport without Redis) is pointed at bench/out/queue-stats/broker.
"""

import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
OUT = BENCH / "out" / "queue-stats"
PYTHON = str(REPO / ".venv" / "bin" / "python")
GUNICORN = str(REPO / ".venv" / "bin" / "gunicorn")
CELERY = str(REPO / ".venv" / "bin" / "celery")
PG_BASE = "postgres://postgres@127.0.0.1:5432/"
REDIS_URL = "redis://127.0.0.1:6379/3"
OTHER_BENCHMARKS = ("bench_labeling.py", "bench_import_export.py", "bench_prm_cpu.py", r"\.ci/run")
QUEUE_PROJECT = "bench-queue"
STATS_PROJECT = "bench-stats"
LEAD_PASSWORD = "bench-lead-password-1"
GOAL_QUEUE_P95_MS = 50.0
GOAL_STATS_S = 1.0

sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO))


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, file=sys.stderr, flush=True)


def db_url(name: str) -> str:
    return PG_BASE + name


# --- machine and quiet ----------------------------------------------------------------------------


def other_benchmarks() -> list[str]:
    found = []
    for pattern in OTHER_BENCHMARKS:
        if subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0:
            found.append(pattern.replace("\\", ""))
    return found


def wait_quiet(max_load: float = 1.0, timeout: float = 1200, poll: float = 15) -> dict:
    """Wait until no other benchmark runs and the 1-minute load average is under `max_load`."""
    started = time.monotonic()
    while True:
        busy = other_benchmarks()
        load = os.getloadavg()[0]
        waited = time.monotonic() - started
        if not busy and load < max_load:
            return {"quiet": True, "waited_s": round(waited), "load1": load}
        if waited >= timeout:
            log(f"still busy after {waited:.0f}s ({busy}, load {load:.2f}); measuring anyway")
            return {"quiet": False, "waited_s": round(waited), "load1": load, "busy": busy}
        log(f"waiting for a quiet machine: others {busy}, load1 {load:.2f}")
        time.sleep(poll)


def cpu_jiffies() -> tuple[int, int]:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


def proc_table() -> dict[int, tuple[str, int, int]]:
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                data = f.read()
        except OSError:
            continue
        comm = data[data.index("(") + 1 : data.rindex(")")]
        rest = data[data.rindex(")") + 2 :].split()
        out[int(name)] = (comm, int(rest[1]), sum(int(v) for v in rest[11:15]))
    return out


class CpuMeter:
    """CPU seconds of our server processes (gunicorn/celery trees), PostgreSQL (all backends,
    including those of other databases), this client, and the rest of the machine."""

    def __init__(self, roots: list[int]):
        self.roots = set(roots)
        self.hz = os.sysconf("SC_CLK_TCK")

    def snapshot(self) -> dict:
        table = proc_table()
        me = os.getpid()
        groups = {"server": 0, "postgres": 0, "client": 0}

        def ours(pid):
            for _ in range(10):
                if pid in self.roots:
                    return True
                pid = table[pid][1] if pid in table else 0
                if pid <= 1:
                    return False
            return False

        for pid, (comm, _ppid, jiffies) in table.items():
            if pid == me:
                groups["client"] += jiffies
            elif ours(pid):
                groups["server"] += jiffies
            elif comm.startswith("postgres"):
                groups["postgres"] += jiffies
        busy, total = cpu_jiffies()
        return {**groups, "busy": busy, "total": total, "t": time.monotonic()}

    def delta(self, a: dict, b: dict) -> dict:
        ncpu = os.cpu_count() or 1
        wall = b["t"] - a["t"]
        machine = ncpu * wall * (b["busy"] - a["busy"]) / max(b["total"] - a["total"], 1)
        out = {k: round((b[k] - a[k]) / self.hz, 1) for k in ("server", "postgres", "client")}
        out["other"] = round(max(0.0, machine - sum(out.values())), 1)
        out["machine"] = round(machine, 1)
        out["wall"] = round(wall, 1)
        return out


def code_version() -> str:
    """HEAD plus a hash of the app's uncommitted changes outside bench/ (others edit the app
    while benchmarks run: this says which code a server process loaded)."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    diff = subprocess.run(
        ["git", "diff", "HEAD", "--", ".", ":!bench", ":!docs"], cwd=REPO, capture_output=True
    ).stdout
    return f"{head}+{hashlib.sha256(diff).hexdigest()[:8]}" if diff else head


def machine_info() -> dict:
    import psycopg

    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with psycopg.connect(db_url("postgres"), autocommit=True) as conn:
        pg = conn.execute("SELECT version()").fetchone()[0]
        settings = {
            n: conn.execute(f"SHOW {n}").fetchone()[0]
            for n in ("shared_buffers", "work_mem", "synchronous_commit", "max_connections")
        }
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    diff = subprocess.run(
        ["git", "diff", "HEAD", "--", ".", ":!bench"], cwd=REPO, capture_output=True
    ).stdout
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem_gb": round(mem_kb / 1024 / 1024, 1),
        "postgresql": pg.split(" on ")[0],
        "pg_settings": settings,
        "git": git,
        "app_diff_sha": hashlib.sha256(diff).hexdigest()[:12],
    }


# --- database and Django --------------------------------------------------------------------------


def recreate_db(name: str) -> None:
    import psycopg

    with psycopg.connect(db_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def django_env(db: str, *, redis: bool = False, conn_max_age: int = 0, extra=None) -> dict:
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    broker = OUT / "broker"
    for sub in ("queue", "processed", "control"):
        (broker / sub).mkdir(parents=True, exist_ok=True)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=db_url(db),
        DJANGO_DEBUG="0",
        DATABASE_CONN_MAX_AGE=str(conn_max_age),
        CELERY_BROKER_DIR=str(broker),
        PYTHONUNBUFFERED="1",
    )
    if redis:
        env["REDIS_URL"] = REDIS_URL
    env.update(extra or {})
    return env


def manage(db: str, *args: str, **kw) -> str:
    cmd = [PYTHON, "manage.py", *args]
    log("$", " ".join(cmd))
    out = subprocess.run(cmd, cwd=REPO, env=django_env(db, **kw), capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def django_setup(db: str) -> None:
    os.environ.update(django_env(db))
    import django

    django.setup()


# --- (A) queue data ------------------------------------------------------------------------------


def label_steps(texts: list[str], ratings: list[int]) -> list[dict]:
    return [
        {
            "completions": [{"text": texts[i], "rating": r, "flagged": False}],
            "human_completion": None,
            "chosen_completion": None if r == -1 else 0,
        }
        for i, r in enumerate(ratings)
    ]


def setup_queue(args) -> None:
    """Project `bench-queue` (overlap --overlap, qc_rate 0): --solutions solutions in generation
    0 ranked 1..N; --closed of the top-ranked solutions have `overlap` submitted labelings by
    historical labelers, the next --half one each (so the queue is served from the middle), the
    rest none; 200 extra gold solutions (for --qc-rate runs); 50 annotators with API tokens."""
    from gen_prm800k import Text, _answer

    t0 = time.perf_counter()
    recreate_db(args.db)
    manage(args.db, "migrate", "-v0")
    django_setup(args.db)
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from labeling.bulk_insert import insert_rows
    from labeling.models import (
        Generation,
        GenerationItem,
        GoldLabel,
        Labeling,
        Problem,
        Project,
        Solution,
        StepRating,
        User,
    )
    from labeling.services.users import user_create

    rng = random.Random(args.seed)
    text = Text(rng)
    now = datetime.now(UTC)
    project = Project.objects.create(name=QUEUE_PROJECT, overlap=args.overlap, qc_rate=0.0)
    gen0 = Generation.objects.create(project=project, number=0, strategy="bench")
    unusable = make_password(None)
    hist = User.objects.bulk_create(
        [User(username=f"hist-{i:03d}", is_active=False, password=unusable) for i in range(300)]
    )
    hist_ids = [u.pk for u in hist]
    n_problems = max(20, args.solutions // 20)
    problems = []
    for i in range(n_problems):
        body = text.make(300, 600, 400) + f" (#{i})"
        problems.append(
            Problem(
                project=project,
                text=body,
                text_hash=hashlib.sha256(body.encode()).hexdigest(),
                reference_solution=text.make(500, 1500, 760),
                reference_answer=_answer(rng),
            )
        )
    problems = Problem.objects.bulk_create(problems, batch_size=2000)
    log(f"{len(problems)} problems")

    n_gold = 200
    total = args.solutions + n_gold
    sol_steps: dict[int, list[str]] = {}

    def solution_rows():
        for sid in range(1, total + 1):
            n = rng.randint(10, 14)
            answer = _answer(rng)
            steps = [text.make(100, 400, 125) for _ in range(n - 1)]
            steps.append(f"# Answer\n\n{answer}")
            sol_steps[sid] = steps
            dumped = json.dumps(steps)
            yield (
                sid,
                now,
                now,
                dumped,
                hashlib.sha256(dumped.encode()).hexdigest(),
                answer,
                "bench",
                "bench",
                "",
                "{}",
                problems[sid % n_problems].pk,
                project.pk,
            )

    insert_rows(
        Solution,
        (
            "id",
            "created_at",
            "updated_at",
            "steps",
            "steps_hash",
            "final_answer",
            "generator",
            "source",
            "external_id",
            "metadata",
            "problem_id",
            "project_id",
        ),
        solution_rows(),
    )
    log(f"{total} solutions ({time.perf_counter() - t0:.0f}s)")

    # labelings: ranks 1..closed get `overlap` labelings, the next `half` one (if overlap > 1)
    plan = []  # (solution id, count)
    for rank in range(1, args.solutions + 1):
        if rank <= args.closed:
            plan.append((rank, args.overlap))
        elif rank <= args.closed + args.half and args.overlap > 1:
            plan.append((rank, 1))
    counts = dict(plan)
    insert_rows(
        GenerationItem,
        ("rank", "score", "generation_id", "solution_id", "is_open", "submitted_count"),
        (
            (
                rank,
                rng.random(),
                gen0.pk,
                rank,
                counts.get(rank, 0) < args.overlap,
                counts.get(rank, 0),
            )
            for rank in range(1, args.solutions + 1)
        ),
    )
    log("generation items")

    labeling_rows = []
    rating_rows = []
    lid = 0
    gold_labelings = []
    span = 150 * 24 * 3600

    def one_labeling(sid, labeler, generation_id):
        nonlocal lid
        lid += 1
        steps = sol_steps[sid]
        n = len(steps)
        if rng.random() < 0.7:
            err = rng.randint(7, n - 1)
            ratings = [1 if rng.random() < 0.85 else 0 for _ in range(err)] + [-1]
            finish = "found_error"
        else:
            ratings = [1 if rng.random() < 0.85 else 0 for _ in range(n)]
            finish = "solution"
        at = now - timedelta(seconds=rng.randrange(span))
        labeling_rows.append(
            (
                lid,
                at,
                at,
                "submitted",
                finish,
                "",
                int(rng.lognormvariate(12.8, 0.7)),
                at,
                False,
                False,
                json.dumps(label_steps(steps, ratings)),
                rng.random(),
                None,
                None,
                None,
                generation_id,
                labeler,
                project.pk,
                sid,
            )
        )
        for i, r in enumerate(ratings):
            rating_rows.append((lid, i, 0, r, False))
        return lid

    for sid, count in plan:
        for labeler in rng.sample(hist_ids, count):
            one_labeling(sid, labeler, gen0.pk)
    for sid in range(args.solutions + 1, total + 1):
        gold_labelings.append((sid, one_labeling(sid, rng.choice(hist_ids), None)))
    lab_fields = (
        "id",
        "created_at",
        "updated_at",
        "status",
        "finish_reason",
        "reason",
        "total_time_ms",
        "submitted_at",
        "is_quality_control",
        "is_screening",
        "steps",
        "verifier_score",
        "question_keys",
        "source_hash",
        "source_line",
        "generation_id",
        "labeler_id",
        "project_id",
        "solution_id",
    )
    insert_rows(Labeling, lab_fields, labeling_rows)
    log(f"{len(labeling_rows)} labelings ({time.perf_counter() - t0:.0f}s)")
    insert_rows(
        StepRating,
        ("labeling_id", "step_index", "completion_index", "rating", "flagged"),
        rating_rows,
    )
    log(f"{len(rating_rows)} step ratings ({time.perf_counter() - t0:.0f}s)")
    GoldLabel.objects.bulk_create(
        [GoldLabel(solution_id=sid, labeling_id=lab) for sid, lab in gold_labelings]
    )
    with connection.cursor() as cur:
        for table in ("labeling_solution", "labeling_labeling"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    labeling_rows.clear()
    rating_rows.clear()
    users = {}
    for i in range(args.annotators):
        user, token = user_create(username=f"q-ann-{i:02d}", role="annotator", project=project)
        users[user.username] = token.key
    lead, lead_token = user_create(  # noqa: RUF059
        username="q-lead", role="lead", password=LEAD_PASSWORD, project=project
    )
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    info = {
        "db": args.db,
        "project": project.pk,
        "generation": gen0.pk,
        "tokens": users,
        "lead_token": lead_token.key,
        "overlap": args.overlap,
        "solutions": args.solutions,
        "gold": n_gold,
        "labelings": Labeling.objects.filter(project=project).count(),
        "step_ratings": StepRating.objects.filter(labeling__project=project).count(),
        "setup_seconds": round(time.perf_counter() - t0),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"setup-{args.db}.json").write_text(json.dumps(info, indent=1))
    log(
        f"setup done: {info['labelings']} labelings, {info['step_ratings']} step ratings, "
        f"{info['setup_seconds']}s"
    )


# --- (B) statistics data --------------------------------------------------------------------------


def write_stats_prm800k(
    path: Path, *, multi: int, single: int, qc: int, labelers: int, seed: int
) -> dict:
    """PRM800K phase-2 lines: `multi` solutions labeled by 3 distinct labelers each (mostly
    agreeing: a per-step truth plus noise), `single` labelings of other solutions, `qc` quality
    -control records over 20 gold solutions (counted in `single`); ~10 StepRating rows each."""
    from gen_prm800k import Generator

    class StatsGen(Generator):
        truth_error: int | None = None

        def _first(self, truth_bad: bool) -> int:
            r = self.rng.random()
            if truth_bad:
                return -1 if r < 0.85 else (0 if r < 0.95 else 1)
            return 1 if r < 0.80 else (0 if r < 0.975 else -1)

        def label(self, steps):
            rng = self.rng
            n = len(steps)
            roll = rng.random()
            out = []
            if roll < 0.02:  # give_up / bad_problem with a reason
                finish = "give_up" if roll < 0.013 else "bad_problem"
                for i in range(rng.randrange(min(n, 6))):
                    out.append(_step([_c(steps[i], 1, False)], 0))
                return {
                    "steps": out,
                    "total_time": int(rng.lognormvariate(12.8, 0.7)),
                    "finish_reason": finish,
                }
            finish = "solution"
            for i in range(n):
                r = self._first(i == self.truth_error)
                if r == -1:
                    completions = [_c(steps[i], -1, False)]
                    for _ in range(rng.choice((0, 0, 1, 1, 2))):
                        completions.append(
                            _c(self.text.make(70, 300, 130), rng.choice((1, 1, 0, -1)), False)
                        )
                    out.append(_step(completions, None))
                    finish = "found_error"
                    break
                out.append(_step([_c(steps[i], r, False)], 0))
            if finish == "solution" and out[-1]["completions"][0]["rating"] == -1:
                finish = "found_error"
            return {
                "steps": out,
                "total_time": int(rng.lognormvariate(12.8, 0.7)),
                "finish_reason": finish,
            }

    def _c(t, r, f):
        return {"text": t, "rating": r, "flagged": f}

    def _step(c, chosen):
        return {"completions": c, "human_completion": None, "chosen_completion": chosen}

    gen = StatsGen(multi * 3 + single, seed)
    rng = gen.rng
    gen.labelers = [
        str(__import__("uuid").UUID(int=rng.getrandbits(128), version=4)) for _ in range(labelers)
    ]
    gold = [gen.question() for _ in range(20)]

    def truth(n):
        # where the solution really goes wrong (None: correct); error late enough that a
        # labeling has ~10 rated steps on average
        return None if rng.random() < 0.3 else rng.randint(min(5, n - 1), n - 1)

    lines = 0
    ratings = 0
    with open(path, "w", encoding="ascii") as out:

        def emit(question, generation, is_qc, labeler):
            nonlocal lines, ratings
            line = gen.record(question, generation, is_qc, labeler)
            out.write(line + "\n")
            lines += 1
            steps = json.loads(line)["label"]["steps"]
            ratings += sum(len(s["completions"]) for s in steps)

        for _ in range(multi):
            q = gen.question()
            g = rng.choice(range(0, 11))
            gen.truth_error = truth(len(q["pre_generated_steps"]))
            for who in rng.sample(gen.labelers, 3):
                emit(q, g, False, who)
        for _ in range(single - qc):
            q = gen.question()
            gen.truth_error = truth(len(q["pre_generated_steps"]))
            emit(q, rng.choice(range(0, 11)), False, rng.choice(gen.labelers))
        for _ in range(qc):
            q = rng.choice(gold)
            gen.truth_error = None
            emit(q, rng.choice(range(0, 11)), True, rng.choice(gen.labelers))
    return {"lines": lines, "step_rating_rows": ratings}


def setup_stats(args) -> None:
    t0 = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"stats-prm800k-{args.multi}x3-{args.single}.jsonl"
    if not path.exists() or args.regenerate:
        made = write_stats_prm800k(
            path,
            multi=args.multi,
            single=args.single,
            qc=args.qc,
            labelers=args.labelers,
            seed=args.seed,
        )
        log(f"wrote {path}: {made} ({time.perf_counter() - t0:.0f}s)")
    recreate_db(args.db)
    manage(args.db, "migrate", "-v0")
    t1 = time.perf_counter()
    print(manage(args.db, "import_prm800k", str(path), "--project", STATS_PROJECT, "--qc-gold"))
    import_s = time.perf_counter() - t1
    log(f"import {import_s:.0f}s")
    lead_out = manage(
        args.db,
        "add_user",
        "s-lead",
        "--role",
        "lead",
        "--project",
        STATS_PROJECT,
        "--password",
        LEAD_PASSWORD,
    )
    ann_out = manage(
        args.db, "add_user", "s-ann", "--role", "annotator", "--project", STATS_PROJECT
    )
    django_setup(args.db)
    from django.db import connection

    from labeling.models import Labeling, Project, StepRating
    from labeling.services.projects import project_update

    project = Project.objects.get(name=STATS_PROJECT)
    # so that the staleness annotator gets tasks of the current generation: overlap 4 reopens
    # every item (3 labelings at most), qc 0 makes the task a regular one
    project_update(project=project, overlap=4, qc_rate=0.0)
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    info = {
        "db": args.db,
        "project": project.pk,
        "file": str(path.relative_to(REPO)),
        "lead_token": re.search(r"API token: (\w+)", lead_out).group(1),
        "annotator_token": re.search(r"API token: (\w+)", ann_out).group(1),
        "labelings": Labeling.objects.filter(project=project).count(),
        "step_ratings": StepRating.objects.filter(labeling__project=project).count(),
        "first_completion_ratings": StepRating.objects.filter(
            labeling__project=project, completion_index=0, rating__isnull=False
        ).count(),
        "solutions": project.solutions.count(),
        "labelers": Labeling.objects.filter(project=project).values("labeler").distinct().count(),
        "import_seconds": round(import_s),
        "setup_seconds": round(time.perf_counter() - t0),
    }
    (OUT / f"setup-{args.db}.json").write_text(json.dumps(info, indent=1))
    log(f"setup done: {info}")


# --- HTTP ----------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes
    cookies: dict = field(default_factory=dict)

    def json(self):
        return json.loads(self.body)


class Http:
    """Minimal HTTP/1.1 client on asyncio streams (gunicorn's sync workers close the connection
    after each response, so this opens one per request like a browser would)."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    async def request(self, method: str, path: str, headers=None, body: bytes = b"") -> Response:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            head = [
                f"{method} {path} HTTP/1.1",
                f"Host: 127.0.0.1:{self.port}",
                f"Content-Length: {len(body)}",
                "Connection: close",
            ]
            head += [f"{k}: {v}" for k, v in (headers or {}).items()]
            if self.cookies:
                head.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            raw = await reader.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            hdrs: dict[str, str] = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    k = k.strip().lower()
                    if k == "set-cookie":
                        name, _, rest = v.strip().partition("=")
                        self.cookies[name] = rest.split(";", 1)[0]
                    hdrs[k] = v.strip()
            if status in (204, 304) or method == "HEAD":
                data = b""
            elif "content-length" in hdrs:
                data = await reader.readexactly(int(hdrs["content-length"]))
            else:
                data = await reader.read()
            return Response(status, hdrs, data)
        finally:
            writer.close()
            try:  # noqa: SIM105
                await writer.wait_closed()
            except OSError:
                pass


def server_timing(headers: dict) -> dict:
    out = {}
    for part in headers.get("server-timing", "").split(","):
        name, _, rest = part.strip().partition(";dur=")
        if rest:
            out[name] = float(rest)
    if "x-queries" in headers:
        out["queries"] = int(headers["x-queries"])
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(
        self,
        db: str,
        tag: str,
        *,
        workers=4,
        redis=False,
        conn_max_age=0,
        timeout=300,
        profile_match: str | None = None,
        worker_class: str = "sync",
        threads: int = 1,
    ):
        self.port = free_port()
        self.dir = OUT / f"server-{tag}"
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        extra = {"BENCH_TIMING_DIR": str(self.dir)}
        if profile_match:
            extra.update(
                BENCH_PROFILE_DIR=str(self.dir / "prof"), BENCH_PROFILE_MATCH=profile_match
            )
        self.env = django_env(db, redis=redis, conn_max_age=conn_max_age, extra=extra)
        self.cmd = [
            GUNICORN,
            "--pythonpath",
            "bench",
            "timing_wsgi:application",
            "-b",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            "--threads",
            str(threads),
            "--timeout",
            str(timeout),
            "--log-level",
            "warning",
        ]
        self.proc = None
        self.celery = None

    def start(self, celery=False):
        self.errlog = open(self.dir / "gunicorn.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.cmd, cwd=REPO, env=self.env, stdout=self.errlog, stderr=subprocess.STDOUT
        )
        if celery:
            self.celery_log = open(self.dir / "celery.log", "w")  # noqa: SIM115
            self.celery = subprocess.Popen(
                [
                    CELERY,
                    "-A",
                    "config",
                    "worker",
                    "-Q",
                    "default",
                    "-c",
                    "1",
                    "--loglevel",
                    "INFO",
                ],
                cwd=REPO,
                env=self.env,
                stdout=self.celery_log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"gunicorn exited: see {self.dir / 'gunicorn.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /accounts/login/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                    if s.recv(12)[8:12] == b" 200":
                        return
            except OSError:
                pass
            time.sleep(0.3)
        sys.exit("gunicorn did not answer in 90 s")

    def pids(self) -> list[int]:
        return [p.pid for p in (self.proc, self.celery) if p is not None]

    def stop(self):
        for proc in (self.celery, self.proc):
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.errlog.close()


def pct(values, q) -> float | None:
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def dist(values) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": pct(values, 50),
        "p95": pct(values, 95),
        "p99": pct(values, 99),
        "max": max(values),
        "mean": sum(values) / len(values),
    }


def fmt(x, nd=1):
    return "–" if x is None else f"{x:.{nd}f}"  # noqa: RUF001


# --- (A) queue load -------------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    start: float
    client_ms: float
    status: int
    server: dict
    cycle: int
    client: int


async def annotator(
    http: Http, token: str, ctx: dict, samples: list, errors: list, seed: int
) -> None:
    rng = random.Random(seed)
    client = seed
    auth = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    cycle = 0

    async def call(kind, method, path, payload):
        body = json.dumps(payload).encode()
        t = time.monotonic()
        try:
            r = await http.request(method, path, auth, body)
        except Exception as exc:
            errors.append(f"{kind}: {type(exc).__name__}: {exc}")
            return None
        ms = (time.monotonic() - t) * 1000
        samples.append(Sample(kind, t, ms, r.status, server_timing(r.headers), cycle, client))
        ok = r.status == 200 or (kind == "next" and r.status == 204)
        if not ok:
            errors.append(f"{kind} {path}: HTTP {r.status} {r.body[:200]!r}")
        if ctx["think"]:
            await asyncio.sleep(ctx["think"] * rng.uniform(0.5, 1.5))
        return r if ok else None

    while time.monotonic() < ctx["stop_at"]:
        cycle += 1
        r = await call("next", "POST", "/api/assignments/next/", {"project": ctx["project"]})
        if r is None or r.status == 204:
            ctx["no_task"] += r is not None
            await asyncio.sleep(0.5)
            continue
        task = r.json()
        n = ctx["steps"].get(task["solution"])
        if n is None:
            errors.append(f"unknown solution {task['solution']}")
            continue
        ctx["kinds"][task["kind"]] = ctx["kinds"].get(task["kind"], 0) + 1
        steps = [{"rating": 1, "flagged": False}] * n
        r = await call(
            "draft",
            "PUT",
            f"/api/assignments/{task['id']}/draft/",
            {"steps": steps, "total_time_ms": 1000 * n},
        )
        if r is None:
            continue
        await call(
            "submit",
            "POST",
            f"/api/assignments/{task['id']}/submit/",
            {"finish_reason": "solution"},
        )


def queue_verify(db: str, project: int, overlap: int) -> dict:
    import psycopg

    with psycopg.connect(db_url(db), autocommit=True) as conn:

        def one(sql, *params):
            return conn.execute(sql, params).fetchone()[0]

        gen = one("SELECT id FROM labeling_generation WHERE project_id=%s AND number=0", project)
        regular = "NOT is_quality_control AND NOT is_screening"
        return {
            "over_overlap_solutions": one(
                f"SELECT count(*) FROM (SELECT solution_id FROM labeling_labeling WHERE "
                f"generation_id=%s AND status='submitted' AND {regular} GROUP BY solution_id "
                f"HAVING count(*) > %s) x",
                gen,
                overlap,
            ),
            "over_overlap_with_live_drafts": one(
                f"SELECT count(*) FROM (SELECT solution_id FROM labeling_labeling WHERE "
                f"generation_id=%s AND {regular} AND (status='submitted' OR (status='draft' "
                f"AND lease_expires_at > now())) GROUP BY solution_id HAVING count(*) > %s) x",
                gen,
                overlap,
            ),
            "same_annotator_twice": one(
                f"SELECT count(*) FROM (SELECT labeler_id, solution_id FROM labeling_labeling "
                f"WHERE status IN ('draft','submitted') AND {regular} AND project_id=%s "
                f"GROUP BY 1, 2 HAVING count(*) > 1) x",
                project,
            ),
            "same_qc_question_twice": one(
                "SELECT count(*) FROM (SELECT labeler_id, solution_id, generation_id FROM "
                "labeling_labeling WHERE status IN ('draft','submitted') AND is_quality_control "
                "AND project_id=%s GROUP BY 1, 2, 3 HAVING count(*) > 1) x",
                project,
            ),
            "item_count_mismatch": one(
                f"SELECT count(*) FROM labeling_generationitem gi WHERE gi.generation_id=%s AND "
                f"gi.submitted_count <> (SELECT count(*) FROM labeling_labeling l WHERE "
                f"l.solution_id=gi.solution_id AND l.generation_id=gi.generation_id AND "
                f"l.status='submitted' AND {regular})",
                gen,
            ),
            "item_open_mismatch": one(
                "SELECT count(*) FROM labeling_generationitem WHERE generation_id=%s AND "
                "is_open <> (submitted_count < %s)",
                gen,
                overlap,
            ),
            "drafts_left": one(
                "SELECT count(*) FROM labeling_labeling WHERE project_id=%s AND status='draft'",
                project,
            ),
            "submitted_by_bench_annotators": one(
                "SELECT count(*) FROM labeling_labeling l JOIN labeling_user u ON "
                "u.id=l.labeler_id WHERE u.username LIKE 'q-ann-%%' AND l.status='submitted'"
            ),
            "step_ratings": one("SELECT count(*) FROM labeling_steprating"),
        }


def queue_run(args) -> dict:
    import psycopg

    info = json.loads((OUT / f"setup-{args.db}.json").read_text())
    tokens = list(info["tokens"].values())[: args.clients]
    with psycopg.connect(db_url(args.db), autocommit=True) as conn:
        conn.execute(
            "UPDATE labeling_project SET qc_rate=%s WHERE id=%s", (args.qc_rate, info["project"])
        )
        overlap = conn.execute(
            "SELECT overlap FROM labeling_project WHERE id=%s", (info["project"],)
        ).fetchone()[0]
        steps = dict(
            conn.execute(
                "SELECT id, jsonb_array_length(steps) FROM labeling_solution WHERE project_id=%s",
                (info["project"],),
            ).fetchall()
        )
        before = {
            "labelings": conn.execute("SELECT count(*) FROM labeling_labeling").fetchone()[0],
            "open_items": conn.execute(
                "SELECT count(*) FROM labeling_generationitem WHERE is_open"
            ).fetchone()[0],
        }
    tag = (
        f"queue-{args.db}-qc{args.qc_rate}-think{args.think}-cma{args.conn_max_age}-"
        f"{time.strftime('%Y%m%dT%H%M%S')}"
    )
    server = Server(
        args.db,
        tag,
        workers=args.workers,
        conn_max_age=args.conn_max_age,
        profile_match=args.profile_match,
        worker_class=args.worker_class,
        threads=args.threads,
        redis=args.redis,
    )
    code = code_version()
    server.start()
    try:
        quiet = wait_quiet(timeout=args.quiet_timeout)
        meter = CpuMeter(server.pids())
        ctx = {
            "project": info["project"],
            "steps": steps,
            "think": args.think,
            "no_task": 0,
            "kinds": {},
        }
        samples: list[Sample] = []
        errors: list[str] = []

        async def main():
            t0 = time.monotonic()
            ctx["stop_at"] = t0 + args.warmup + args.duration
            tasks = [
                asyncio.create_task(annotator(Http(server.port), tok, ctx, samples, errors, i))
                for i, tok in enumerate(tokens)
            ]
            await asyncio.sleep(args.warmup)
            a = meter.snapshot()
            await asyncio.sleep(args.duration)
            b = meter.snapshot()
            await asyncio.gather(*tasks)
            return t0, meter.delta(a, b)

        wall0 = time.time()
        t0, cpu = asyncio.run(main())
        others_after = other_benchmarks()
    finally:
        server.stop()
    window = (t0 + args.warmup, t0 + args.warmup + args.duration)
    counted = [s for s in samples if window[0] <= s.start < window[1]]
    result = {
        "tag": tag,
        "code": code,
        "db": args.db,
        "clients": len(tokens),
        "workers": args.workers,
        "worker_class": args.worker_class,
        "threads": args.threads,
        "redis": args.redis,
        "duration": args.duration,
        "warmup": args.warmup,
        "think": args.think,
        "qc_rate": args.qc_rate,
        "overlap": overlap,
        "conn_max_age": args.conn_max_age,
        "started": datetime.fromtimestamp(wall0, UTC).isoformat(timespec="seconds"),
        "quiet": quiet,
        "others_after": others_after,
        "cpu": cpu,
        "before": before,
        "errors": len(errors),
        "error_samples": errors[:20],
        "no_task": ctx["no_task"],
        "kinds_served": ctx["kinds"],
        "requests": len(counted),
        "rps": len(counted) / args.duration,
        "submits_per_s": sum(s.kind == "submit" for s in counted) / args.duration,
    }
    for kind in ("next", "draft", "submit"):
        rows = [s for s in counted if s.kind == kind]
        result[kind] = {
            "client_ms": dist([s.client_ms for s in rows]),
            "app_ms": dist([s.server.get("app", 0) for s in rows]),
            "db_ms": dist([s.server.get("db", 0) for s in rows]),
            "conn_ms": dist([s.server.get("conn", 0) for s in rows]),
            "cpu_ms": dist([s.server.get("cpu", 0) for s in rows]),
            "queries": dist([s.server.get("queries", 0) for s in rows]),
            "statuses": {
                str(st): sum(s.status == st for s in rows)
                for st in sorted({s.status for s in rows})
            },
        }
    # a cycle's next + submit (what the "next + submit" may mean summed)
    by_cycle: dict[tuple[int, int], dict] = {}
    for s in counted:
        if s.kind in ("next", "submit"):
            by_cycle.setdefault((s.client, s.cycle), {})[s.kind] = s
    pairs = [c for c in by_cycle.values() if len(c) == 2]
    result["next_plus_submit"] = {
        "client_ms": dist([c["next"].client_ms + c["submit"].client_ms for c in pairs]),
        "app_ms": dist(
            [c["next"].server.get("app", 0) + c["submit"].server.get("app", 0) for c in pairs]
        ),
    }
    result["verify"] = queue_verify(args.db, info["project"], overlap)
    result["verify_ok"] = (
        result["verify"]["over_overlap_solutions"] == 0
        and result["verify"]["same_annotator_twice"] == 0
        and result["verify"]["same_qc_question_twice"] == 0
        and result["verify"]["item_count_mismatch"] == 0
        and result["verify"]["item_open_mismatch"] == 0
    )
    (OUT / f"{tag}.json").write_text(json.dumps(result, indent=1))
    md = queue_markdown(result)
    (OUT / f"{tag}.md").write_text(md)
    print(md)
    return result


def queue_markdown(r: dict) -> str:
    lines = [
        f"### Queue run `{r['tag']}`",
        "",
        f"code {r.get('code')}; {r['clients']} clients, think {r['think']} s, {r['workers']} "
        f"{r.get('worker_class', 'sync')} workers x {r.get('threads', 1)} threads, "
        f"{'Redis' if r.get('redis') else 'file'} cache and broker, "
        f"CONN_MAX_AGE {r['conn_max_age']}, overlap {r['overlap']}, qc_rate {r['qc_rate']}; "
        f"{r['duration']} s counted after {r['warmup']} s warm-up; started {r['started']}; "
        f"quiet before: {r['quiet']}; other benchmarks at the end: {r['others_after'] or 'none'}",
        "",
        f"requests/s {r['rps']:.1f}, tasks submitted/s {r['submits_per_s']:.1f}, "
        f"errors {r['errors']}, 204 no-task {r['no_task']}, served kinds {r['kinds_served']}; "
        f"CPU s during the window: {r['cpu']}",
        "",
        "| request | n | client p50 | client p95 | client p99 | server app p50 | app p95 | "
        "app p99 | SQL p50 | SQL p95 | CPU p50 | CPU p95 | queries |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind in ("next", "draft", "submit"):
        k = r[kind]
        c, a, d = k["client_ms"], k["app_ms"], k["db_ms"]
        u = k.get("cpu_ms", {})
        lines.append(
            f"| {kind} | {c['n']} | {fmt(c.get('p50'))} | {fmt(c.get('p95'))} | "
            f"{fmt(c.get('p99'))} | {fmt(a.get('p50'))} | {fmt(a.get('p95'))} | "
            f"{fmt(a.get('p99'))} | {fmt(d.get('p50'))} | {fmt(d.get('p95'))} | "
            f"{fmt(u.get('p50'))} | {fmt(u.get('p95'))} | {fmt(k['queries'].get('p50'), 0)} |"
        )
    lines += [
        "",
        f"DB check after the run: {r['verify']} -> {'OK' if r['verify_ok'] else 'VIOLATION'}",
        "",
    ]
    return "\n".join(lines)


# --- (B) statistics timings -----------------------------------------------------------------------


def redis_clear() -> int:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    n = 0
    for pattern in ("*project-stats:*", "*stats-refresh-pending:*"):
        for key in client.scan_iter(pattern):
            n += client.delete(key)
    return n


async def login(http: Http, username: str, password: str) -> None:
    r = await http.request("GET", "/accounts/login/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', r.body).group(1).decode()
    body = urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token, "next": "/"}
    ).encode()
    r = await http.request(
        "POST", "/accounts/login/", {"Content-Type": "application/x-www-form-urlencoded"}, body
    )
    if r.status != 302 or "sessionid" not in http.cookies:
        raise RuntimeError(f"login failed: HTTP {r.status}")


async def stats_get(port: int, kind: str, ctx: dict) -> dict:
    """One timed request: kind 'api' (token) or 'dash' (session)."""
    if kind == "api":
        http = Http(port)
        path = f"/api/projects/{ctx['project']}/stats/"
        headers = {"Authorization": f"Token {ctx['lead_token']}"}
    else:
        http = ctx["session"]
        path = f"/projects/{ctx['project']}/stats/"
        headers = {}
    t = time.monotonic()
    r = await http.request("GET", path, headers)
    ms = (time.monotonic() - t) * 1000
    row = {
        "kind": kind,
        "t": t,
        "wall": time.time(),
        "client_ms": ms,
        "status": r.status,
        "bytes": len(r.body),
        **{f"server_{k}": v for k, v in server_timing(r.headers).items()},
    }
    if kind == "api" and r.status == 200:
        data = r.json()
        row["labelings"] = data["throughput"]["labelings"]
        row["computed_at"] = data["computed_at"]
        row["compute_seconds"] = data["compute_seconds"]
    elif kind == "dash" and r.status == 200:
        row["dash_ok"] = b"Krippendorff" in r.body or b"agreement" in r.body
    if r.status != 200:
        ctx["errors"].append(f"{kind}: HTTP {r.status}")
    return row


async def submit_one(port: int, token: str, project: int, db: str) -> dict:
    http = Http(port)
    auth = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    r = await http.request(
        "POST", "/api/assignments/next/", auth, json.dumps({"project": project}).encode()
    )
    if r.status != 200:
        raise RuntimeError(f"next: HTTP {r.status} {r.headers.get('x-no-task-reason')}")
    task = r.json()
    import psycopg  # the step count, as the task page would show it

    with psycopg.connect(db_url(db), autocommit=True) as conn:
        n = conn.execute(
            "SELECT jsonb_array_length(steps) FROM labeling_solution WHERE id=%s",
            (task["solution"],),
        ).fetchone()[0]
    steps = [{"rating": 1, "flagged": False}] * n
    r = await http.request(
        "PUT", f"/api/assignments/{task['id']}/draft/", auth, json.dumps({"steps": steps}).encode()
    )
    if r.status != 200:
        raise RuntimeError(f"draft: HTTP {r.status} {r.body[:200]!r}")
    r = await http.request(
        "POST",
        f"/api/assignments/{task['id']}/submit/",
        auth,
        json.dumps({"finish_reason": "solution"}).encode(),
    )
    if r.status != 200:
        raise RuntimeError(f"submit: HTTP {r.status} {r.body[:200]!r}")
    return {"labeling": task["id"], "submitted_wall": time.time(), "t": time.monotonic()}


async def staleness_trial(
    port: int,
    ctx: dict,
    *,
    poll_every: float,
    parallel: int,
    settle: int,
    max_wait: float,
    before: int,
) -> dict:
    """Submit one labeling, then poll the API (`parallel` requests at a time, so that every
    gunicorn worker's cache is asked) until `settle` consecutive answers show it."""
    sub = await submit_one(port, ctx["annotator_token"], ctx["project"], ctx["db"])
    polls = []
    first_new = last_old = None
    streak = 0
    while time.monotonic() - sub["t"] < max_wait:
        round_start = time.monotonic()
        rows = await asyncio.gather(*(stats_get(port, "api", ctx) for _ in range(parallel)))
        for row in rows:
            row["since_submit"] = row["t"] + row["client_ms"] / 1000 - sub["t"]
            polls.append(row)
            if row.get("labelings", before) > before:
                streak += 1
                if first_new is None:
                    first_new = row["since_submit"]
            else:
                streak = 0
                last_old = row["since_submit"]
        if streak >= settle:
            break
        await asyncio.sleep(max(0.0, poll_every - (time.monotonic() - round_start)))
    return {
        "labeling": sub["labeling"],
        "first_new_s": first_new,
        "last_old_s": last_old,
        "settled": streak >= settle,
        "polls": len(polls),
        "slow_polls": [round(p["client_ms"]) for p in polls if p["client_ms"] > 1000],
        "max_poll_ms": max(p["client_ms"] for p in polls) if polls else None,
    }


def summarise_stats_rows(rows: list[dict]) -> dict:
    out = {}
    for kind in ("api", "dash"):
        mine = [r for r in rows if r["kind"] == kind]
        out[kind] = {
            "client_ms": dist([r["client_ms"] for r in mine]),
            "app_ms": dist([r.get("server_app", 0) for r in mine]),
            "over_1s": sum(r["client_ms"] > 1000 for r in mine),
            "bytes": mine[0]["bytes"] if mine else None,
        }
    return out


def stats_run(args) -> dict:
    info = json.loads((OUT / f"setup-{args.db}.json").read_text())
    redis = args.cache == "redis"
    tag = (
        f"stats-{args.db}-{args.cache}{'-celery' if args.celery else ''}-"
        f"{time.strftime('%Y%m%dT%H%M%S')}"
    )
    if redis:
        log(f"cleared {redis_clear()} statistics keys from {REDIS_URL}")
    server = Server(args.db, tag, workers=args.workers, redis=redis)
    code = code_version()
    server.start(celery=args.celery)
    ctx = {
        "project": info["project"],
        "lead_token": info["lead_token"],
        "annotator_token": info["annotator_token"],
        "errors": [],
        "db": args.db,
    }
    result = {
        "tag": tag,
        "code": code,
        "db": args.db,
        "cache": args.cache,
        "celery": args.celery,
        "workers": args.workers,
        "labelings": info["labelings"],
        "step_ratings": info["step_ratings"],
    }
    try:
        quiet = wait_quiet(timeout=args.quiet_timeout)
        result["quiet"] = quiet
        meter = CpuMeter(server.pids())

        async def main():
            ctx["session"] = Http(server.port)
            await login(ctx["session"], "s-lead", LEAD_PASSWORD)
            a = meter.snapshot()
            # cold: nothing cached anywhere
            cold_api = await stats_get(server.port, "api", ctx)
            cold_dash = await stats_get(server.port, "dash", ctx)
            result["cold"] = {"api": cold_api, "dash": cold_dash}
            log(
                f"cold api {cold_api['client_ms']:.0f} ms (compute "
                f"{cold_api.get('compute_seconds')} s), then dashboard "
                f"{cold_dash['client_ms']:.0f} ms"
            )
            # burst: back-to-back requests right after (each worker's cache fills on demand)
            burst = []
            for kind in ("api", "dash"):
                for _ in range(args.requests):
                    burst.append(await stats_get(server.port, kind, ctx))
            result["burst"] = summarise_stats_rows(burst)
            result["burst_rows"] = burst
            # sustained: a lead (or several tabs) asking every `interval` s for `sustain` s,
            # which spans cache expiries (the cache is fresh for 60 s)
            sustained = []
            t_end = time.monotonic() + args.sustain
            i = 0
            while time.monotonic() < t_end:
                t = time.monotonic()
                sustained.append(await stats_get(server.port, ("api", "dash")[i % 2], ctx))
                i += 1
                await asyncio.sleep(max(0.0, args.interval - (time.monotonic() - t)))
            result["sustained"] = summarise_stats_rows(sustained)
            result["sustained_rows"] = sustained
            result["cpu_timed"] = meter.delta(a, meter.snapshot())
            log(f"sustained: {result['sustained']}")
            # staleness after a submit
            trials = []
            before = (await stats_get(server.port, "api", ctx)).get("labelings", 0)
            for k in range(args.stale_trials):
                await asyncio.sleep(random.Random(k).uniform(0, 20))
                trial = await staleness_trial(
                    server.port,
                    ctx,
                    poll_every=1.0,
                    parallel=args.workers,
                    settle=3 * args.workers,
                    max_wait=150,
                    before=before,
                )
                before += 1
                trials.append(trial)
                log(f"staleness trial {k}: {trial}")
            result["staleness"] = trials

        asyncio.run(main())
        result["others_after"] = other_benchmarks()
    finally:
        server.stop()
    result["errors"] = ctx["errors"]
    (OUT / f"{tag}.json").write_text(json.dumps(result, indent=1, default=str))
    md = stats_markdown(result)
    (OUT / f"{tag}.md").write_text(md)
    print(md)
    return result


def stats_markdown(r: dict) -> str:
    c = r["cold"]
    lines = [
        f"### Statistics run `{r['tag']}`",
        "",
        f"code {r.get('code')}; cache {r['cache']}"
        f"{' + celery worker' if r['celery'] else ''}, {r['workers']} sync "
        f"workers; {r['labelings']} labelings, {r['step_ratings']} step ratings; quiet before: "
        f"{r['quiet']}; others at the end: {r.get('others_after') or 'none'}; CPU during the "
        f"timed phases: {r.get('cpu_timed')}",
        "",
        f"cold: API {c['api']['client_ms']:.0f} ms (server {fmt(c['api'].get('server_app'), 0)} "
        f"ms, compute_statistics {c['api'].get('compute_seconds')} s, "
        f"{c['api']['bytes']} bytes); dashboard right after {c['dash']['client_ms']:.0f} ms "
        f"(server {fmt(c['dash'].get('server_app'), 0)} ms, {c['dash']['bytes']} bytes)",
        "",
        "| phase | request | n | client p50 ms | client p95 ms | max ms | server app p50 | "
        "server app p95 | > 1 s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for phase in ("burst", "sustained"):
        for kind in ("api", "dash"):
            s = r[phase][kind]
            cl, ap = s["client_ms"], s["app_ms"]
            lines.append(
                f"| {phase} | {kind} | {cl['n']} | {fmt(cl.get('p50'))} | {fmt(cl.get('p95'))} | "
                f"{fmt(cl.get('max'), 0)} | {fmt(ap.get('p50'))} | {fmt(ap.get('p95'))} | "
                f"{s['over_1s']} |"
            )
    lines += [
        "",
        "staleness after a submit (s; first answer showing it / last answer not "
        "showing it; polls of 4 parallel API requests every 1 s):",
        "",
    ]
    for t in r.get("staleness", []):
        lines.append(
            f"- first new {fmt(t['first_new_s'])}, last old {fmt(t['last_old_s'])}, "
            f"settled {t['settled']}, {t['polls']} polls, slow polls (ms) "
            f"{t['slow_polls']}"
        )
    lines += ["", f"errors: {r['errors'] or 'none'}", ""]
    return "\n".join(lines)


def profile_stats(args) -> None:
    """cProfile of one compute_statistics on the stats project, plus its SQL time."""
    import cProfile
    import pstats

    info = json.loads((OUT / f"setup-{args.db}.json").read_text())
    django_setup(args.db)
    from django.db import connection

    from labeling.models import Project
    from labeling.project_stats import StatsFilter, compute_statistics

    project = Project.objects.get(pk=info["project"])
    quiet = wait_quiet(timeout=args.quiet_timeout)
    sql = {"n": 0, "s": 0.0, "by": {}}

    def wrapper(execute, q, params, many, context):
        t = time.perf_counter()
        try:
            return execute(q, params, many, context)
        finally:
            d = time.perf_counter() - t
            sql["n"] += 1
            sql["s"] += d
            key = q[:90]
            sql["by"][key] = sql["by"].get(key, 0) + d

    runs = []
    for i in range(args.runs):
        sql.update(n=0, s=0.0, by={})
        prof = cProfile.Profile()
        t = time.perf_counter()
        with connection.execute_wrapper(wrapper):
            if i == args.runs - 1:
                prof.enable()
            compute_statistics(project, StatsFilter())
            if i == args.runs - 1:
                prof.disable()
        runs.append({"total_s": time.perf_counter() - t, "sql_s": sql["s"], "queries": sql["n"]})
        log(f"compute_statistics run {i}: {runs[-1]}")
    path = OUT / f"profile-stats-{args.db}.prof"
    prof.dump_stats(path)
    import io

    buf = io.StringIO()
    pstats.Stats(str(path), stream=buf).sort_stats("cumulative").print_stats(45)
    text = buf.getvalue()
    buf = io.StringIO()
    pstats.Stats(str(path), stream=buf).sort_stats("tottime").print_stats(25)
    text += buf.getvalue()
    sql_top = sorted(sql["by"].items(), key=lambda kv: -kv[1])[:10]
    out = {"quiet": quiet, "runs": runs, "sql_top_last_run": sql_top}
    (OUT / f"profile-stats-{args.db}.json").write_text(json.dumps(out, indent=1))
    (OUT / f"profile-stats-{args.db}.txt").write_text(text)
    print(json.dumps(out, indent=1))
    print(text[:6000])


# --- main ----------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("setup-queue")
    p.add_argument("--db", default="bench_queue")
    p.add_argument("--solutions", type=int, default=100_000)
    p.add_argument(
        "--closed",
        type=int,
        default=40_000,
        help="top-ranked solutions already labeled `overlap` times",
    )
    p.add_argument(
        "--half", type=int, default=20_000, help="next solutions labeled once (when overlap > 1)"
    )
    p.add_argument("--overlap", type=int, default=2)
    p.add_argument("--annotators", type=int, default=50)
    p.add_argument("--seed", type=int, default=4)
    p = sub.add_parser("queue")
    p.add_argument("--db", default="bench_queue")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--duration", type=float, default=60)
    p.add_argument("--warmup", type=float, default=5)
    p.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean pause after each response (uniform 0.5x-1.5x), seconds",
    )
    p.add_argument("--qc-rate", type=float, default=0.0)
    p.add_argument("--conn-max-age", type=int, default=60, help="0: a new connection per request")
    p.add_argument("--worker-class", default="sync", help="gunicorn worker class (sync, gthread)")
    p.add_argument("--threads", type=int, default=1, help="threads per worker (gthread)")
    p.add_argument(
        "--redis",
        action="store_true",
        help=f"cache and Celery broker on Redis ({REDIS_URL}) as in production, instead of the "
        "file cache and filesystem broker (each submit writes both)",
    )
    p.add_argument(
        "--profile-match",
        default=None,
        help="cProfile requests whose path contains this (timing_wsgi)",
    )
    p.add_argument("--quiet-timeout", type=float, default=1200)
    p = sub.add_parser("setup-stats")
    p.add_argument("--db", default="bench_stats")
    p.add_argument("--multi", type=int, default=30_000)
    p.add_argument("--single", type=int, default=10_000)
    p.add_argument("--qc", type=int, default=1_000)
    p.add_argument("--labelers", type=int, default=100)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--regenerate", action="store_true")
    p = sub.add_parser("stats")
    p.add_argument("--db", default="bench_stats")
    p.add_argument("--cache", choices=("locmem", "redis"), default="locmem")
    p.add_argument("--celery", action="store_true", help="also run a Celery worker (refresh)")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--requests", type=int, default=30)
    p.add_argument("--sustain", type=float, default=180)
    p.add_argument("--interval", type=float, default=3.0)
    p.add_argument("--stale-trials", type=int, default=3)
    p.add_argument("--quiet-timeout", type=float, default=1200)
    p = sub.add_parser("profile-stats")
    p.add_argument("--db", default="bench_stats")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--quiet-timeout", type=float, default=1200)
    p = sub.add_parser("machine")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.cmd == "setup-queue":
        setup_queue(args)
    elif args.cmd == "queue":
        queue_run(args)
    elif args.cmd == "setup-stats":
        setup_stats(args)
    elif args.cmd == "stats":
        stats_run(args)
    elif args.cmd == "profile-stats":
        profile_stats(args)
    elif args.cmd == "machine":
        print(json.dumps(machine_info(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
