#!/usr/bin/env python
"""Benchmark of the labeling goals: draft saves under 50 concurrent annotators on PostgreSQL,
and the task page with 30 steps becoming interactive in the browser.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_labeling \\
        .venv/bin/python bench/bench_labeling.py

Goals (from the issue):

(a) saving a rating (`PUT /api/assignments/<id>/draft/`): p95 under 50 ms server-side with 50
    annotators saving concurrently on PostgreSQL;
(b) the task page with 30 steps interactive in under 1 s.

What it does:

1. drops and re-creates the database named in DATABASE_URL (a scratch database: it is destroyed),
   runs `manage.py migrate`, writes synthetic solutions (bench/gen_prm800k.py's text generator:
   10-30 steps of 100-400 chars with LaTeX, the last ending `# Answer`) and loads them with
   `manage.py import_solutions` into project `bench-load` (--solutions of them) and `bench-page`
   (30-step solutions for the browser); creates --clients annotators with API tokens (the
   `add_user` command, in-process) and one annotator with a password for the browser;
2. for each --conn-max-age value, starts gunicorn (sync workers, --workers) on the WSGI app
   wrapped by bench/timing_wsgi.py, which adds a `Server-Timing` header (time in the Django
   process, its SQL time, connect time, COMMIT time) and logs each request;
3. for each --think value, runs --clients simulated annotators (one asyncio task each, one
   HTTP connection at a time, like a browser tab whose page sends one save at a time): each takes
   its task from `POST /api/assignments/next/`, rates it step by step, sending after every rating
   the whole draft so far with `PUT .../draft/` (steps 1, then 1-2, ...), waiting the think time
   (uniform between 0.5x and 1.5x the value) after each response; half the tasks end at a
   Negative step (`found_error`), half are rated to the end (`solution`); then `submit` and
   `next`. Requests in the first --warmup seconds are not counted, then --duration seconds are;
4. opens the task page of a 30-step solution in headless Chromium (Playwright), logged in as the
   annotator, --page-runs times each with a cold cache (new browser context per load) and a warm
   one (reloads in one context), and takes the time from navigation start to the moment
   `window.stepLabelingTask` is set (an init script puts a setter on it), which the page does after
   its constructor has rendered all the math with KaTeX; also TTFB, DOMContentLoaded, FCP, load.

It prints a Markdown report and writes it, with the raw numbers as JSON, to --out-dir.
The server runs with DJANGO_SETTINGS_MODULE=config.settings.local and DJANGO_DEBUG=0 (--debug to
keep local's DEBUG=True). Client, server and PostgreSQL share the machine; the report says how
much CPU each took during each run.
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
PYTHON = str(REPO / ".venv" / "bin" / "python")
GUNICORN = str(REPO / ".venv" / "bin" / "gunicorn")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
GOAL_SAVE_P95_MS = 50.0
GOAL_PAGE_S = 1.0
LOAD_PROJECT = "bench-load"
PAGE_PROJECT = "bench-page"
PAGE_USER = "bench-page-annotator"
PAGE_PASSWORD = "bench-page-password-1"

APP_DIR = REPO  # the Django project served (--app-dir: e.g. an older snapshot, for A/B runs)
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO))


# --- machine -------------------------------------------------------------------------------------


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


def proc_stat(pid: int) -> tuple[str, int, int, int] | None:
    """(comm, ppid, utime+stime+cutime+cstime, utime+stime) jiffies of a process, None if it
    is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    comm = data[data.index("(") + 1 : data.rindex(")")]
    rest = data[data.rindex(")") + 2 :].split()
    ppid = int(rest[1])
    utime, stime, cutime, cstime = (int(v) for v in rest[11:15])
    return comm, ppid, utime + stime + cutime + cstime, utime + stime


class CpuMeter:
    """CPU seconds taken during a run by: the gunicorn master and workers, PostgreSQL (every
    postgres process; backends that exit are counted through the postmaster's children times),
    this client process, Chromium, and everything else on the machine (`other`: work that is not
    ours). Also counts transactions committed in *other* databases of the PostgreSQL server
    (pg_stat_database), since PostgreSQL work done for someone else is counted as `postgres`."""

    def __init__(self, gunicorn_pid: int | None, db_url: str):
        self.gunicorn_pid = gunicorn_pid
        self.hz = os.sysconf("SC_CLK_TCK")
        self.db_url = db_url
        self.db_name = urlsplit(db_url).path.lstrip("/")

    def other_db_xacts(self) -> int:
        import psycopg

        with psycopg.connect(self.db_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT coalesce(sum(xact_commit + xact_rollback), 0) FROM pg_stat_database "
                "WHERE datname IS DISTINCT FROM %s",
                [self.db_name],
            ).fetchone()
        return int(row[0])

    def snapshot(self) -> dict:
        groups = {
            "gunicorn": 0,
            "postgres": 0,
            "client": 0,
            "browser": 0,
            "other_db_xacts": self.other_db_xacts(),
        }
        stats = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                st = proc_stat(int(name))
                if st is not None:
                    stats[int(name)] = st
        me = os.getpid()

        def mine(pid):  # a descendant of this process (Chromium, the Playwright driver)
            for _ in range(20):
                pid = stats[pid][1] if pid in stats else 0
                if pid == me:
                    return True
                if pid <= 1:
                    return False
            return False

        others = groups["others"] = {}
        for pid, (comm, ppid, jiffies, own) in stats.items():
            if pid == me:
                groups["client"] += jiffies
            elif self.gunicorn_pid and (pid == self.gunicorn_pid or ppid == self.gunicorn_pid):
                groups["gunicorn"] += jiffies
            elif comm.startswith("postgres"):
                groups["postgres"] += jiffies
            elif mine(pid) or comm.startswith(("chrom", "headless_shell")):
                groups["browser"] += jiffies
            else:
                # own time only: a shell's children times jump when it reaps a long command
                others[pid] = (comm, own)
        busy, total = cpu_jiffies()
        groups["machine_busy"] = busy
        groups["machine_total"] = total
        groups["t"] = time.monotonic()
        return groups

    def delta(self, a: dict, b: dict) -> dict:
        ncpu = os.cpu_count() or 1
        wall = b["t"] - a["t"]
        # /proc/stat counts jiffies over all CPUs; turn into CPU seconds
        machine_s = (
            ncpu
            * wall
            * (b["machine_busy"] - a["machine_busy"])
            / max(b["machine_total"] - a["machine_total"], 1)
        )
        out = {k: (b[k] - a[k]) / self.hz for k in ("gunicorn", "postgres", "client", "browser")}
        out["other"] = max(0.0, machine_s - sum(out.values()))
        # processes not ours alive at both ends (those that exited in between are missed: the
        # Chromium renderers of closed contexts, whose CPU the machine total counts as "other")
        out["other_alive"] = (
            sum(
                j - a["others"][pid][1]
                for pid, (comm, j) in b["others"].items()
                if pid in a["others"] and a["others"][pid][0] == comm
            )
            / self.hz
        )
        top = sorted(
            (
                (j - a["others"][pid][1], comm)
                for pid, (comm, j) in b["others"].items()
                if pid in a["others"] and a["others"][pid][0] == comm
            ),
            reverse=True,
        )[:3]
        out["other_top"] = [f"{comm} {jiffies / self.hz:.1f}s" for jiffies, comm in top if jiffies]
        out["machine"] = machine_s
        out["wall"] = wall
        # minus the two statements of our own snapshot connection, counted in "postgres" db
        out["other_db_xacts"] = b["other_db_xacts"] - a["other_db_xacts"]
        return out


def rounded(d: dict) -> dict:
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in d.items()}


def contaminated(
    cpu: dict, max_other_cpus: float, max_other_xacts: int, browser: bool = False
) -> str:
    """Why a run is not clean (other work on the machine during it), or ''. Without the browser
    running, `other` (machine total minus ours) counts also short-lived processes; with it, only
    processes alive throughout can be told apart from Chromium's exited renderers."""
    why = []
    other = cpu.get("other_alive", cpu["other"]) if browser else cpu["other"]
    if other / max(cpu["wall"], 1e-9) > max_other_cpus:
        why.append(f"other processes used {other / cpu['wall']:.2f} CPUs ({cpu.get('other_top')})")
    if cpu["other_db_xacts"] > max_other_xacts:
        why.append(f"{cpu['other_db_xacts']} transactions in other databases")
    return "; ".join(why)


CALIBRATION = """
import json, time
t = time.process_time()
s = 0
for i in range(10**7):
    s += i
json.dumps([{"a": i, "b": "x" * 50} for i in range(200000)])
print(time.process_time() - t)
"""


def calibrate() -> float:
    """CPU seconds of a fixed pure-Python task (about 1 s on an unloaded host; the same task as
    bench/bench_import_export.py). This VM's speed varies with its host's load, which the guest
    cannot see (no steal time): runs with different values are not comparable."""
    out = subprocess.run([PYTHON, "-c", CALIBRATION], capture_output=True, text=True, check=True)
    return round(float(out.stdout), 3)


def wait_quiet(max_busy: float, timeout: float) -> float:
    """Wait until other work on the machine uses under `max_busy` CPUs (2 s samples), at most
    `timeout` s; returns the last sample."""
    deadline = time.monotonic() + timeout
    while True:
        busy0, total0 = cpu_jiffies()
        time.sleep(2)
        busy1, total1 = cpu_jiffies()
        busy = (os.cpu_count() or 1) * (busy1 - busy0) / max(total1 - total0, 1)
        if busy <= max_busy or time.monotonic() >= deadline:
            return busy


def machine_info(db_url: str) -> dict:
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
    with psycopg.connect(db_url, autocommit=True) as conn:
        pg = conn.execute("SELECT version()").fetchone()[0]
        pg_settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("shared_buffers", "synchronous_commit", "fsync", "max_connections")
        }
    import django
    import gunicorn

    def git(*args):
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return out.stdout.strip()

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "postgresql": pg,
        "pg_settings": pg_settings,
        "git": git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "worktree": worktree_fingerprint(),
    }


def worktree_fingerprint() -> str:
    """sha256 (12 hex) of the app's working tree outside bench/ (tracked changes and untracked
    files): the code measured, which other people may be changing."""
    import hashlib

    h = hashlib.sha256()
    diff = subprocess.run(
        ["git", "diff", "HEAD", "--", ".", ":!bench"], cwd=REPO, capture_output=True
    ).stdout
    h.update(diff)
    untracked = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard", "--", ".", ":!bench"],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in sorted(untracked):
        h.update(name.encode())
        with contextlib.suppress(OSError):
            h.update((REPO / name).read_bytes())
    return h.hexdigest()[:12]


# --- data and setup ------------------------------------------------------------------------------


def write_solutions(path: Path, count: int, seed: int, steps_range=(10, 30), all_math=False):
    """`count` JSON Lines solutions: problem text, 10-30 steps of 100-400 chars (with LaTeX), the
    last step ending `# Answer\\n\\n<answer>`."""
    from gen_prm800k import Text, _answer

    rng = random.Random(seed)
    text = Text(rng, pool_size=3000)

    def step():
        while True:
            s = text.make(100, 400, 200)
            if not all_math or "$" in s or "\\[" in s:
                return s

    with open(path, "w") as f:
        for i in range(count):
            n = rng.randint(*steps_range)
            answer = _answer(rng)
            steps = [step() for _ in range(n - 1)]
            steps.append(step() + f"\n\n# Answer\n\n{answer}")
            record = {
                "problem": f"Problem {seed}-{i}. " + text.make(300, 600, 400),
                "steps": steps,
                "answer": answer,
                "reference_answer": answer if rng.random() < 0.5 else _answer(rng),
            }
            f.write(json.dumps(record) + "\n")


def django_env(db_url: str, debug: bool, conn_max_age: int = 0, extra: dict | None = None):
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db_url,
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_CONN_MAX_AGE=str(conn_max_age),
        PYTHONUNBUFFERED="1",
    )
    if not debug:
        env["DJANGO_DEBUG"] = "0"
    env.update(extra or {})
    return env


def run_cmd(cmd: list[str], env: dict, log: list) -> str:
    started = time.perf_counter()
    out = subprocess.run(cmd, cwd=APP_DIR, env=env, capture_output=True, text=True)
    log.append({"cmd": cmd, "s": round(time.perf_counter() - started, 2), "rc": out.returncode})
    if out.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def recreate_db(db_url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(db_url)
    name = parts.path.lstrip("/")
    if not parts.scheme.startswith("postgres") or name in (
        "",
        "postgres",
        "template0",
        "template1",
    ):
        sys.exit(f"DATABASE_URL must name a scratch PostgreSQL database (it is dropped): {db_url}")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_data(args, out_dir: Path, log: list) -> dict:
    env = django_env(args.db_url, args.debug)
    recreate_db(args.db_url)
    run_cmd([PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], env, log)
    load_file = out_dir / f"solutions-{args.solutions}-seed{args.seed}.jsonl"
    page_file = out_dir / "page-30-steps.jsonl"
    if not load_file.exists():
        write_solutions(load_file, args.solutions, args.seed)
    if not page_file.exists():
        write_solutions(page_file, 3, args.seed + 1, steps_range=(30, 30), all_math=True)
    for path, project in ((load_file, LOAD_PROJECT), (page_file, PAGE_PROJECT)):
        run_cmd(
            [
                PYTHON,
                "manage.py",
                "import_solutions",
                str(path.relative_to(REPO)) if APP_DIR == REPO else str(path),
                "--project",
                project,
            ],
            env,
            log,
        )

    # Users, in-process (the same add_user command; 50 subprocesses would take a minute).
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")})
    os.environ["DJANGO_DEBUG"] = "0"
    import io

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from labeling.models import Project, Solution

    def add_user(name, project, password=None):
        buf = io.StringIO()
        argv = [name, "--role", "annotator", "--project", project]
        if password:
            argv += ["--password", password]
        call_command("add_user", *argv, stdout=buf)
        return buf.getvalue().rsplit("API token: ", 1)[1].strip()

    started = time.perf_counter()
    tokens = {
        f"bench-ann{i:03d}": add_user(f"bench-ann{i:03d}", LOAD_PROJECT)
        for i in range(1, args.clients + 1)
    }
    page_token = add_user(PAGE_USER, PAGE_PROJECT, PAGE_PASSWORD)
    log.append(
        {
            "cmd": [f"add_user x{args.clients + 1} (call_command)"],
            "s": round(time.perf_counter() - started, 2),
            "rc": 0,
        }
    )
    projects = {p.name: p.pk for p in Project.objects.all()}
    step_counts = {pk: len(steps) for pk, steps in Solution.objects.values_list("id", "steps")}
    page_lengths = [
        sum(len(s) for s in steps)
        for steps in Solution.objects.filter(project__name=PAGE_PROJECT).values_list(
            "steps", flat=True
        )
    ]
    load_lengths = [
        len(s)
        for steps in Solution.objects.filter(project__name=LOAD_PROJECT).values_list(
            "steps", flat=True
        )
        for s in steps
    ]
    connections.close_all()
    return {
        "tokens": tokens,
        "page_token": page_token,
        "projects": projects,
        "step_counts": step_counts,
        "data": {
            "load_solutions": args.solutions,
            "load_steps_mean": statistics.mean(
                len(steps)
                for steps in Solution.objects.filter(project__name=LOAD_PROJECT).values_list(
                    "steps", flat=True
                )
            ),
            "load_step_chars_median": statistics.median(load_lengths),
            "load_step_chars_p5_p95": (pct(load_lengths, 5), pct(load_lengths, 95)),
            "page_solution_chars": page_lengths,
        },
    }


# --- HTTP client ---------------------------------------------------------------------------------


class HttpError(Exception):
    pass


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes


class Http:
    """A minimal HTTP/1.1 client on asyncio streams: one connection, reused when the server
    keeps it alive (gunicorn's sync workers close it after every response)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.reader = self.writer = None

    async def request(self, method: str, path: str, headers: dict, body: bytes = b"") -> Response:
        for attempt in range(2):
            reused = self.writer is not None
            if not reused:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            head = [
                f"{method} {path} HTTP/1.1",
                f"Host: {self.host}:{self.port}",
                f"Content-Length: {len(body)}",
            ]
            head += [f"{k}: {v}" for k, v in headers.items()]
            self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            try:
                return await self._read(method)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if not reused or attempt:
                    raise
        raise HttpError("unreachable")

    async def _read(self, method: str) -> Response:
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(parts)
        else:
            body = await self.reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, headers, body)


def server_timing(headers: dict) -> dict:
    out = {}
    for part in headers.get("server-timing", "").split(","):
        name, _, rest = part.strip().partition(";dur=")
        if rest:
            out[name] = float(rest)
    if "x-queries" in headers:
        out["queries"] = int(headers["x-queries"])
    return out


# --- load ----------------------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str  # draft, submit, next
    start: float  # monotonic
    end: float
    client_ms: float
    status: int
    server: dict
    rated: int = 0  # steps in the draft sent


@dataclass
class Annotator:
    name: str
    token: str
    assignment: int | None = None
    solution: int | None = None
    rng: random.Random = field(default_factory=random.Random)


def task_plan(rng: random.Random, n: int) -> list[dict]:
    """The marks a person gives a task of `n` steps: half end at a Negative step (found_error),
    half rate every step (the last Neutral or Positive); ratings mostly Positive, a few flags."""
    if rng.random() < 0.5:
        stop = rng.randrange(n)
        marks = [
            {"rating": 1 if rng.random() < 0.8 else 0, "flagged": rng.random() < 0.05}
            for _ in range(stop)
        ]
        marks.append({"rating": -1, "flagged": False})
        return marks
    return [
        {"rating": 1 if rng.random() < 0.8 else 0, "flagged": rng.random() < 0.05} for _ in range(n)
    ]


async def annotator_loop(a: Annotator, ctx: dict, samples: list, errors: list, stop: asyncio.Event):
    http = Http("127.0.0.1", ctx["port"])
    headers = {
        "Authorization": f"Token {a.token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    think = ctx["think"]
    steps = ctx["step_counts"]
    total_ms = 0

    async def call(kind, method, path, payload, rated=0):
        body = json.dumps(payload).encode()
        t0 = time.monotonic()
        try:
            resp = await http.request(method, path, headers, body)
        except (OSError, asyncio.IncompleteReadError, HttpError) as exc:
            t1 = time.monotonic()
            errors.append({"kind": kind, "error": repr(exc), "t": t1})
            samples.append(Sample(kind, t0, t1, (t1 - t0) * 1000, 0, {}, rated))
            await http.close()
            return None
        t1 = time.monotonic()
        samples.append(
            Sample(kind, t0, t1, (t1 - t0) * 1000, resp.status, server_timing(resp.headers), rated)
        )
        ok = resp.status == 200 or (kind == "next" and resp.status == 204)
        if not ok:
            errors.append(
                {
                    "kind": kind,
                    "status": resp.status,
                    "body": resp.body[:300].decode("utf-8", "replace"),
                    "t": t1,
                }
            )
        return resp

    async def pause():
        if think > 0:
            delay = a.rng.uniform(0.5 * think, 1.5 * think)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            return delay
        return 0.0

    # spread the starts over one think time (or 0.2 s), as people do not click in step
    await asyncio.sleep(a.rng.uniform(0, think or 0.2))
    try:
        while not stop.is_set():
            if a.assignment is None:
                resp = await call(
                    "next", "POST", "/api/assignments/next/", {"project": ctx["project"]}
                )
                if resp is None or resp.status != 200:
                    break
                data = json.loads(resp.body)
                a.assignment, a.solution = data["id"], data["solution"]
                total_ms = 0
            plan = task_plan(a.rng, steps[a.solution])
            for k in range(1, len(plan) + 1):
                if stop.is_set():
                    return
                waited = await pause()
                total_ms += int(waited * 1000) + 50
                resp = await call(
                    "draft",
                    "PUT",
                    f"/api/assignments/{a.assignment}/draft/",
                    {"steps": plan[:k], "total_time_ms": total_ms},
                    rated=k,
                )
                if resp is None:
                    await asyncio.sleep(0.5)
            if stop.is_set():
                return
            await pause()
            reason = "found_error" if plan[-1]["rating"] == -1 else "solution"
            await call(
                "submit",
                "POST",
                f"/api/assignments/{a.assignment}/submit/",
                {"finish_reason": reason, "total_time_ms": total_ms + 100},
            )
            a.assignment = None
    finally:
        await http.close()


async def run_load(annotators: list[Annotator], ctx: dict, warmup: float, duration: float):
    samples: list[Sample] = []
    errors: list[dict] = []
    stop = asyncio.Event()
    tasks = [asyncio.create_task(annotator_loop(a, ctx, samples, errors, stop)) for a in annotators]
    t_start = time.monotonic()
    meter = ctx["meter"]
    await asyncio.sleep(warmup)
    window_start = time.monotonic()
    wall_start = time.time()
    cpu0 = meter.snapshot()
    side = ctx.get("during")
    side_result = None
    if side is not None:
        side_task = asyncio.create_task(side())
    await asyncio.sleep(duration)
    if side is not None:
        side_result = await side_task
        # keep the window at least `duration` long; the side job may run over
    window_end = time.monotonic()
    wall_end = time.time()
    cpu1 = meter.snapshot()
    stop.set()
    await asyncio.gather(*tasks)
    return {
        "samples": [s for s in samples if s.start >= window_start and s.end <= window_end],
        "errors": [e for e in errors if window_start <= e["t"] <= window_end],
        "errors_all": errors,
        "window": window_end - window_start,
        "wall_window": (wall_start, wall_end),
        "cpu": meter.delta(cpu0, cpu1),
        "ramp_s": window_start - t_start,
        "side": side_result,
    }


def pct(values, q: float) -> float:
    """Percentile with linear interpolation (q in 0..100)."""
    if not values:
        return float("nan")
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def dist(values) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "mean": statistics.fmean(values),
        "p50": pct(values, 50),
        "p95": pct(values, 95),
        "p99": pct(values, 99),
        "max": max(values),
    }


def read_server_log(log_dir: Path, wall_window: tuple[float, float]) -> list[dict]:
    rows = []
    for path in log_dir.glob("w*.tsv"):
        with open(path) as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) < 10:
                    continue
                start = float(p[0])
                if not wall_window[0] <= start <= wall_window[1]:
                    continue
                rows.append(
                    {
                        "start": start,
                        "method": p[1],
                        "path": p[2],
                        "status": p[3],
                        "app": float(p[4]),
                        "full": float(p[5]),
                        "db": float(p[6]),
                        "conn": float(p[7]),
                        "commit": float(p[8]),
                        "queries": int(p[9]),
                    }
                )
    return rows


def summarise_load(result: dict, log_rows: list[dict], clients: int) -> dict:
    samples = result["samples"]
    window = result["window"]
    out = {
        "window_s": window,
        "cpu": result["cpu"],
        "errors": len(result["errors"]),
        "errors_all": len(result["errors_all"]),
        "error_examples": result["errors"][:5],
        "ramp_s": result["ramp_s"],
    }
    for kind in ("draft", "submit", "next"):
        ss = [s for s in samples if s.kind == kind]
        ok = [s for s in ss if s.server]
        out[kind] = {
            "count": len(ss),
            "rps": len(ss) / window,
            "client_ms": dist([s.client_ms for s in ss]),
            "server_ms": dist([s.server["app"] for s in ok]),
            "db_ms": dist([s.server.get("db", 0) for s in ok]),
            "conn_ms": dist([s.server.get("conn", 0) for s in ok]),
            "commit_ms": dist([s.server.get("commit", 0) for s in ok]),
            "queries": dist([s.server.get("queries", 0) for s in ok]),
        }
        if kind == "draft":
            by = {}
            for lo, hi in ((1, 10), (11, 20), (21, 30)):
                part = [s.server["app"] for s in ok if lo <= s.rated <= hi]
                by[f"{lo}-{hi}"] = dist(part)
            out[kind]["server_ms_by_rated"] = by
            full = [r["full"] for r in log_rows if r["method"] == "PUT" and "/draft/" in r["path"]]
            out[kind]["server_full_ms"] = dist(full)
    total = len(samples)
    out["all_rps"] = total / window
    out["clients"] = clients
    return out


# --- server --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, args, conn_max_age: int, out_dir: Path, tag: str):
        self.port = args.port or free_port()
        self.log_dir = out_dir / f"server-{tag}"
        shutil.rmtree(self.log_dir, ignore_errors=True)
        self.log_dir.mkdir(parents=True)
        extra = {"BENCH_TIMING_DIR": str(self.log_dir)}
        if args.profile:
            extra["BENCH_PROFILE_DIR"] = str(self.log_dir / "prof")
            extra["BENCH_PROFILE_TIMER"] = "cpu"
        self.env = django_env(args.db_url, args.debug, conn_max_age, extra)
        self.cmd = [
            GUNICORN,
            "--pythonpath",
            str(BENCH),
            "timing_wsgi:application",
            "-b",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(args.workers),
            "--worker-class",
            args.worker_class,
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ]
        if args.worker_class == "gthread":
            self.cmd += ["--threads", str(args.threads)]
        self.proc = None

    def start(self):
        self.errlog = open(self.log_dir / "gunicorn.log", "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            self.cmd, cwd=APP_DIR, env=self.env, stdout=self.errlog, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"gunicorn exited: see {self.log_dir / 'gunicorn.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /accounts/login/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                    if s.recv(12)[8:12] == b" 200":
                        return
            except OSError:
                pass
            time.sleep(0.3)
        sys.exit("gunicorn did not answer in 60 s")

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.errlog.close()


# --- browser -------------------------------------------------------------------------------------

READY_SCRIPT = """
(() => {
  let value;
  Object.defineProperty(window, "stepLabelingTask", {
    configurable: true,
    get() { return value; },
    set(v) {
      value = v;
      if (v && window.__benchReadyAt === undefined) {
        window.__benchReadyAt = performance.now();
        window.__benchKatex = document.querySelectorAll(".katex").length;
      }
    },
  });
  document.addEventListener("DOMContentLoaded", () => {
    window.__benchDclHandlerStart = performance.now();
  }, { once: true });
})();
"""

COLLECT = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const fcp = performance.getEntriesByName("first-contentful-paint")[0];
  return {
    ready: window.__benchReadyAt,
    katex: window.__benchKatex,
    katex_errors: document.querySelectorAll(".katex-error").length,
    steps: document.querySelectorAll("li.step").length,
    math_nodes: document.querySelectorAll(".math").length,
    ttfb: nav.responseStart,
    response_end: nav.responseEnd,
    dom_interactive: nav.domInteractive,
    dcl_start: nav.domContentLoadedEventStart,
    dcl_handler: window.__benchDclHandlerStart,
    dcl_end: nav.domContentLoadedEventEnd,
    load_end: nav.loadEventEnd,
    fcp: fcp ? fcp.startTime : null,
    transfer: nav.transferSize,
    resources: performance.getEntriesByType("resource").length,
  };
}
"""


async def page_bench(base: str, assignment: int, runs: int, throttle: float, out_dir: Path) -> dict:
    from playwright.async_api import async_playwright

    url = f"{base}/tasks/{assignment}/"
    result = {"url": url, "cold": [], "warm": [], "throttle": throttle}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        result["chromium"] = browser.version
        login_ctx = await browser.new_context()
        page = await login_ctx.new_page()
        await page.goto(f"{base}/accounts/login/")
        await page.fill("#id_username", PAGE_USER)
        await page.fill("#id_password", PAGE_PASSWORD)
        async with page.expect_navigation():
            await page.click("button[type=submit]")
        state = await login_ctx.storage_state()
        await login_ctx.close()

        async def load(ctx, page):
            if throttle > 1:
                cdp = await ctx.new_cdp_session(page)
                await cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
            resp = await page.goto(url, wait_until="load")
            await page.wait_for_function("window.__benchReadyAt !== undefined", timeout=30000)
            m = await page.evaluate(COLLECT)
            m["status"] = resp.status
            m["server"] = server_timing({k.lower(): v for k, v in resp.headers.items()})
            if m["steps"] != 30 or not m["katex"]:
                raise RuntimeError(f"page not as expected: {m}")
            return m

        for i in range(runs):  # cold: a fresh context (empty cache) for each load
            ctx = await browser.new_context(storage_state=state)
            await ctx.add_init_script(READY_SCRIPT)
            page = await ctx.new_page()
            result["cold"].append(await load(ctx, page))
            if i == 0:
                await page.screenshot(path=str(out_dir / "task-page-30-steps.png"), full_page=False)
            await ctx.close()
        ctx = await browser.new_context(storage_state=state)
        await ctx.add_init_script(READY_SCRIPT)
        page = await ctx.new_page()
        await load(ctx, page)  # fill the cache; not counted
        for _ in range(runs):
            result["warm"].append(await load(ctx, page))
        await ctx.close()
        await browser.close()
    for key in ("cold", "warm"):
        rows = result[key]
        result[f"{key}_summary"] = {
            m: dist([r[m] for r in rows if r.get(m) is not None])
            for m in (
                "ready",
                "ttfb",
                "response_end",
                "dom_interactive",
                "dcl_start",
                "fcp",
                "load_end",
            )
        }
        result[f"{key}_summary"]["constructor"] = dist(
            [r["ready"] - r["dcl_handler"] for r in rows if r.get("dcl_handler") is not None]
        )
        result[f"{key}_summary"]["server_app"] = dist(
            [r["server"]["app"] for r in rows if "app" in r["server"]]
        )
    return result


async def next_assignment(port: int, token: str, project: int) -> dict:
    http = Http("127.0.0.1", port)
    resp = await http.request(
        "POST",
        "/api/assignments/next/",
        {"Authorization": f"Token {token}", "Content-Type": "application/json"},
        json.dumps({"project": project}).encode(),
    )
    await http.close()
    if resp.status != 200:
        sys.exit(f"next: {resp.status} {resp.body[:300]!r}")
    return json.loads(resp.body)


# --- report --------------------------------------------------------------------------------------


def f(x, nd=1):
    if x is None or (isinstance(x, float) and x != x):
        return "-"
    return f"{x:.{nd}f}"


def calib_text(entry: dict) -> str:
    if "calibration_s" not in entry:
        return "-"
    return f"{entry['calibration_s']:.2f}/{entry.get('calibration_after_s', float('nan')):.2f}"


def other_load(cpu: dict, why: str) -> str:
    """Other work on the machine during a run: CPUs used by processes not ours (machine total
    minus ours; and, in brackets, by processes not ours alive throughout), transactions in other
    databases; '(disturbed)' when over the limits."""
    wall = max(cpu["wall"], 1e-9)
    text = f"{cpu['other'] / wall:.2f} CPUs"
    if "other_alive" in cpu:
        text += f" ({cpu['other_alive'] / wall:.2f})"
    text += f", {cpu['other_db_xacts']} xacts"
    return text + (" (disturbed)" if why else "")


def report(meta: dict, loads: list[dict], page: dict | None) -> str:
    m = meta["machine"]
    lines = [
        f"# Labeling benchmark ({meta['when']})",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['mem_gb']} GB RAM, Linux {m['kernel']}; "
        f"Python {m['python']}, Django {m['django']}, gunicorn {m['gunicorn']}; {m['postgresql']} "
        f"({', '.join(f'{k}={v}' for k, v in m['pg_settings'].items())}). "
        f"Commit {m['git']}{' + uncommitted changes' if m['git_dirty'] else ''} "
        f"(working tree outside bench/: {m['worktree']}).",
        "",
        f"Command: `{meta['command']}`",
        "",
        f"Server: gunicorn {meta['args']['worker_class']} workers x{meta['args']['workers']}, "
        f"config.settings.local, DEBUG={'True' if meta['args']['debug'] else 'False'}, WSGI app "
        "wrapped by bench/timing_wsgi.py. Client, server and PostgreSQL on the same machine."
        + (
            f" Project served from {meta['args']['app_dir']} (not this checkout)."
            if meta["args"].get("app_dir")
            else ""
        ),
        "",
        f"Data: {meta['data']['load_solutions']} solutions, mean "
        f"{meta['data']['load_steps_mean']:.1f} steps, step length median "
        f"{meta['data']['load_step_chars_median']:.0f} chars (p5-p95 "
        f"{meta['data']['load_step_chars_p5_p95'][0]:.0f}-"
        f"{meta['data']['load_step_chars_p5_p95'][1]:.0f}).",
        "",
        "## (a) Draft save (`PUT /api/assignments/<id>/draft/`), "
        f"{meta['args']['clients']} annotators",
        "",
        "Server = `app` of the Server-Timing header (WSGI call to start_response); client = "
        "request sent to response read, over a new TCP connection (sync workers close it). ms.",
        "",
        "| CONN_MAX_AGE | think s | saves | saves/s | server p50 | p95 | p99 | max | "
        "client p50 | p95 | p99 | errors | other load | calib s | goal p95<50 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for ld in loads:
        d = ld["summary"]["draft"]
        s, c = d["server_ms"], d["client_ms"]
        lines.append(
            f"| {ld['conn_max_age']} | {ld['think']} | {d['count']} | {f(d['rps'])} | "
            f"{f(s.get('p50'))} | {f(s.get('p95'))} | {f(s.get('p99'))} | {f(s.get('max'))} | "
            f"{f(c.get('p50'))} | {f(c.get('p95'))} | {f(c.get('p99'))} | "
            f"{ld['summary']['errors']} | {other_load(ld['summary']['cpu'], ld['contaminated'])} | "
            f"{calib_text(ld)} | "
            f"{'met' if s.get('p95', 1e9) < GOAL_SAVE_P95_MS else 'NOT met'} |"
        )
    lines += [
        "",
        "Where the server time of a save goes (medians and p95, ms; queries per save):",
        "",
        "| CONN_MAX_AGE | think s | app p50/p95 | SQL p50/p95 | COMMIT p50/p95 | connect p50/p95 "
        "| full (to close) p50/p95 | queries | p95 by steps rated 1-10 / 11-20 / 21-30 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for ld in loads:
        d = ld["summary"]["draft"]
        by = d["server_ms_by_rated"]

        def pp(x):
            return f"{f(x.get('p50'))} / {f(x.get('p95'))}"

        lines.append(
            f"| {ld['conn_max_age']} | {ld['think']} | {pp(d['server_ms'])} | {pp(d['db_ms'])} | "
            f"{pp(d['commit_ms'])} | {pp(d['conn_ms'])} | {pp(d['server_full_ms'])} | "
            f"{f(d['queries'].get('p50'), 0)} | "
            + " / ".join(f(by[k].get("p95")) for k in ("1-10", "11-20", "21-30"))
            + " |"
        )
    lines += [
        "",
        "Other requests in the same runs (server p50/p95, client p50/p95, ms), and CPU seconds "
        "used during the measured window by each part (of "
        f"{m['nproc']} CPUs x window):",
        "",
        "| CONN_MAX_AGE | think s | window s | submit n, server, client | next n, server, client "
        "| all req/s | CPU s: gunicorn / postgres / client / browser / other (machine) |",
        "|---|---|---|---|---|---|---|",
    ]
    for ld in loads:
        sm = ld["summary"]
        cpu = sm["cpu"]

        def oth(x):
            return (
                f"{x['count']}, {f(x['server_ms'].get('p50'))}/{f(x['server_ms'].get('p95'))}"
                f", {f(x['client_ms'].get('p50'))}/{f(x['client_ms'].get('p95'))}"
            )

        lines.append(
            f"| {ld['conn_max_age']} | {ld['think']} | {f(sm['window_s'])} | {oth(sm['submit'])} | "
            f"{oth(sm['next'])} | {f(sm['all_rps'])} | {f(cpu['gunicorn'])} / {f(cpu['postgres'])}"
            f" / {f(cpu['client'])} / {f(cpu.get('browser', 0))} / {f(cpu['other'])} "
            f"({f(cpu['machine'])} of "
            f"{f(cpu['wall'] * m['nproc'])}) |"
        )
    errs = [e for ld in loads for e in ld["summary"]["error_examples"]]
    if errs:
        lines += ["", "Error examples:", "", "```", *[json.dumps(e) for e in errs[:10]], "```"]
    if page:
        lines += [
            "",
            "## (b) Task page, 30 steps with LaTeX: navigation start to interactive",
            "",
            f"Chromium {page['chromium']} headless (Playwright), {page['url']}"
            + (f", CPU throttled x{page['throttle']}" if page["throttle"] > 1 else "")
            + (f"; {page['context']}" if page.get("context") else "")
            + ". `ready` = `window.stepLabelingTask` set, i.e. the page's "
            "constructor has run, math rendered by KaTeX; `constructor` = ready minus the start "
            "of the DOMContentLoaded handlers. ms from navigation start.",
            "",
            "| cache | loads | ready p50 | ready p95 | ready max | TTFB p50 | DOMContentLoaded p50 "
            "| constructor p50 | FCP p50 | load p50 | server app p50 | KaTeX nodes | goal <1 s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for key in ("cold", "warm"):
            s = page[f"{key}_summary"]
            rows = page[key]
            lines.append(
                f"| {key} | {len(rows)} | {f(s['ready']['p50'])} | {f(s['ready']['p95'])} | "
                f"{f(s['ready']['max'])} | {f(s['ttfb']['p50'])} | {f(s['dcl_start']['p50'])} | "
                f"{f(s['constructor']['p50'])} | {f(s['fcp'].get('p50'))} | "
                f"{f(s['load_end']['p50'])} | {f(s['server_app'].get('p50'))} | "
                f"{rows[0]['katex']} | "
                f"{'met' if s['ready']['p95'] < GOAL_PAGE_S * 1000 else 'NOT met'} |"
            )
        if page.get("cpu"):
            cpu = page["cpu"]
            lines += [
                "",
                f"During the page runs: other load {other_load(cpu, page.get('contaminated'))}; "
                f"calibration before/after {calib_text(page)} s; "
                f"CPU s: browser {f(cpu['browser'])}, gunicorn {f(cpu['gunicorn'])}, postgres "
                f"{f(cpu['postgres'])} over {f(cpu['wall'])} s.",
            ]
    lines += ["", "Setup commands:", "", "```"]
    for c in meta["setup_log"]:
        lines.append(f"{' '.join(str(x) for x in c['cmd'])}   # {c['s']} s")
    lines += ["```", ""]
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db-url", default=os.environ.get("DATABASE_URL"))
    ap.add_argument("--out-dir", default=str(BENCH / "out" / "labeling"))
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--solutions", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--worker-class", default="sync", choices=("sync", "gthread"))
    ap.add_argument("--threads", type=int, default=4, help="per worker, with gthread")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--conn-max-age", default="0", help="comma-separated DATABASE_CONN_MAX_AGE")
    ap.add_argument("--think", default="0,1", help="comma-separated mean think times, s")
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--duration", type=float, default=45)
    ap.add_argument("--page-runs", type=int, default=15)
    ap.add_argument("--page-throttle", type=float, default=1.0, help="CPU throttling rate")
    ap.add_argument(
        "--page-during-load",
        type=float,
        metavar="THINK",
        help="also load the page during an extra load run with this think time",
    )
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--skip-page", action="store_true")
    ap.add_argument("--debug", action="store_true", help="keep DEBUG=True (local's default)")
    ap.add_argument("--profile", action="store_true", help="cProfile draft saves in the server")
    ap.add_argument(
        "--quiet-timeout",
        type=float,
        default=60,
        help="wait up to this long for the machine to be idle before each run",
    )
    ap.add_argument(
        "--quiet-cpus",
        type=float,
        default=0.3,
        help="the machine counts as idle below this many busy CPUs",
    )
    ap.add_argument(
        "--attempts",
        type=int,
        default=3,
        help="runs disturbed by other work on the machine are repeated, this often",
    )
    ap.add_argument(
        "--max-other-cpus",
        type=float,
        default=0.25,
        help="a run is disturbed if other processes used more CPUs than this",
    )
    ap.add_argument(
        "--max-other-xacts",
        type=int,
        default=200,
        help="... or if other databases committed more transactions than this",
    )
    ap.add_argument(
        "--app-dir",
        help="serve this copy of the project instead (e.g. `git archive <commit> | tar -x -C "
        "DIR`), with this checkout's virtualenv; the default is this checkout",
    )
    ap.add_argument("--tag", default="")
    ap.add_argument("--rerender", metavar="JSON", help="print the report of an earlier run")
    args = ap.parse_args(argv)
    if args.rerender:
        with open(args.rerender) as fh:
            saved = json.load(fh)
        text = report(saved["meta"], saved["loads"], saved["page"])
        for ld in saved["loads"]:
            if "page_during_load" in ld:
                text += report_page_only(ld["page_during_load"])
        if saved.get("page_under_load"):
            text += report_page_only(saved["page_under_load"])
        print(text)
        return 0
    if not args.db_url:
        ap.error("set DATABASE_URL or --db-url (a scratch PostgreSQL database; it is dropped)")
    global APP_DIR
    if args.app_dir:
        APP_DIR = Path(args.app_dir).resolve()
    out_dir = Path(args.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + (f"-{args.tag}" if args.tag else "")
    setup_log: list = []
    print("setting up the database ...", file=sys.stderr)
    setup = setup_data(args, out_dir, setup_log)
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(
            [
                "DATABASE_URL=" + args.db_url,
                ".venv/bin/python",
                "bench/bench_labeling.py",
                *(argv or sys.argv[1:]),
            ]
        ),
        "args": vars(args),
        "machine": machine_info(args.db_url),
        "setup_log": setup_log,
        "data": setup["data"],
    }
    loads = []
    page = None
    page_under_load = None
    discarded = []

    def clean_enough(cpu: dict, browser: bool = False) -> str:
        return contaminated(cpu, args.max_other_cpus, args.max_other_xacts, browser)

    for cma in [int(x) for x in args.conn_max_age.split(",")]:
        server = Server(args, cma, out_dir, f"{stamp}-cma{cma}")
        try:
            server.start()
            meter = CpuMeter(server.proc.pid, args.db_url)
            project = setup["projects"][LOAD_PROJECT]
            thinks = [float(x) for x in args.think.split(",")] if not args.skip_load else []
            for think in thinks:
                for attempt in range(1, args.attempts + 1):
                    busy = wait_quiet(args.quiet_cpus, args.quiet_timeout)
                    calib = calibrate()
                    print(
                        f"load: CONN_MAX_AGE={cma} think={think}s attempt {attempt} (machine "
                        f"busy {busy:.2f} CPUs before, calibration {calib} s) ...",
                        file=sys.stderr,
                    )
                    annotators = [
                        Annotator(name, token, rng=random.Random(f"{args.seed}-{name}-{think}"))
                        for name, token in setup["tokens"].items()
                    ]
                    ctx = {
                        "port": server.port,
                        "think": think,
                        "project": project,
                        "step_counts": setup["step_counts"],
                        "meter": meter,
                    }
                    res = asyncio.run(run_load(annotators, ctx, args.warmup, args.duration))
                    rows = read_server_log(server.log_dir, res["wall_window"])
                    summary = summarise_load(res, rows, args.clients)
                    why = clean_enough(summary["cpu"])
                    entry = {
                        "conn_max_age": cma,
                        "think": think,
                        "attempt": attempt,
                        "busy_before": busy,
                        "calibration_s": calib,
                        "calibration_after_s": calibrate(),
                        "contaminated": why,
                        "summary": summary,
                    }
                    if res["side"] is not None:
                        entry["page_during_load"] = res["side"]
                    d = summary["draft"]
                    print(
                        f"  saves {d['count']} ({d['rps']:.1f}/s): server p50 "
                        f"{d['server_ms'].get('p50', 0):.1f} p95 "
                        f"{d['server_ms'].get('p95', 0):.1f} p99 "
                        f"{d['server_ms'].get('p99', 0):.1f}; client p50 "
                        f"{d['client_ms'].get('p50', 0):.1f} p95 "
                        f"{d['client_ms'].get('p95', 0):.1f}; errors {summary['errors']}; "
                        f"cpu {json.dumps(rounded(summary['cpu']))}"
                        + (f"; NOT CLEAN: {why}" if why else ""),
                        file=sys.stderr,
                    )
                    if not why or attempt == args.attempts:
                        loads.append(entry)
                        break
                    discarded.append(entry)
            if not args.skip_page and page is None:
                for attempt in range(1, args.attempts + 1):
                    busy = wait_quiet(args.quiet_cpus, args.quiet_timeout)
                    calib = calibrate()
                    print(
                        f"page: attempt {attempt} (machine busy {busy:.2f} CPUs before, "
                        f"calibration {calib} s) ...",
                        file=sys.stderr,
                    )
                    page_assignment = asyncio.run(
                        next_assignment(
                            server.port, setup["page_token"], setup["projects"][PAGE_PROJECT]
                        )
                    )
                    cpu0 = meter.snapshot()
                    result = asyncio.run(
                        page_bench(
                            f"http://127.0.0.1:{server.port}",
                            page_assignment["id"],
                            args.page_runs,
                            args.page_throttle,
                            out_dir,
                        )
                    )
                    result["cpu"] = meter.delta(cpu0, meter.snapshot())
                    result["calibration_s"] = calib
                    result["calibration_after_s"] = calibrate()
                    result["contaminated"] = why = clean_enough(result["cpu"], browser=True)
                    result["context"] = f"idle server (CONN_MAX_AGE={cma})"
                    for key in ("cold", "warm"):
                        st = result[f"{key}_summary"]["ready"]
                        print(
                            f"  {key}: ready p50 {st['p50']:.0f} ms p95 {st['p95']:.0f} ms"
                            + (f"; NOT CLEAN: {why}" if why else ""),
                            file=sys.stderr,
                        )
                    if not why or attempt == args.attempts:
                        page = result
                        break
                    discarded.append({"page": result})
            if args.page_during_load is not None and not args.skip_page and not page_under_load:
                # the page while annotators save (an extra load run, not in the main tables)
                think = args.page_during_load
                busy = wait_quiet(args.quiet_cpus, args.quiet_timeout)
                print(
                    f"page during load: think={think}s (machine busy {busy:.2f} CPUs before) ...",
                    file=sys.stderr,
                )
                page_assignment = asyncio.run(
                    next_assignment(
                        server.port, setup["page_token"], setup["projects"][PAGE_PROJECT]
                    )
                )

                async def during(
                    think=think, page_assignment=page_assignment, port=server.port, cma=cma
                ):
                    r = await page_bench(
                        f"http://127.0.0.1:{port}",
                        page_assignment["id"],
                        args.page_runs,
                        args.page_throttle,
                        out_dir,
                    )
                    r["context"] = (
                        f"during load: {args.clients} annotators saving, think "
                        f"{think} s (CONN_MAX_AGE={cma})"
                    )
                    return r

                annotators = [
                    Annotator(name, token, rng=random.Random(f"{args.seed}-{name}-{think}-page"))
                    for name, token in setup["tokens"].items()
                ]
                ctx = {
                    "port": server.port,
                    "think": think,
                    "project": project,
                    "step_counts": setup["step_counts"],
                    "meter": meter,
                    "during": during,
                }
                res = asyncio.run(run_load(annotators, ctx, args.warmup, args.duration))
                rows = read_server_log(server.log_dir, res["wall_window"])
                summary = summarise_load(res, rows, args.clients)
                page_under_load = res["side"]
                page_under_load["load"] = {"conn_max_age": cma, "think": think, "summary": summary}
                for key in ("cold", "warm"):
                    st = page_under_load[f"{key}_summary"]["ready"]
                    print(
                        f"  {key}: ready p50 {st['p50']:.0f} ms p95 {st['p95']:.0f} ms",
                        file=sys.stderr,
                    )
        finally:
            server.stop()
        if args.profile:
            write_profile_summary(
                server.log_dir / "prof", out_dir / f"profile-{stamp}-cma{cma}.txt"
            )
    meta["discarded_attempts"] = len(discarded)
    text = report(meta, loads, page)
    if page_under_load:
        text += report_page_only(page_under_load)
    (out_dir / f"results-{stamp}.md").write_text(text)
    with open(out_dir / f"results-{stamp}.json", "w") as fh:
        json.dump(
            {
                "meta": meta,
                "loads": loads,
                "page": page,
                "page_under_load": page_under_load,
                "discarded": discarded,
            },
            fh,
            indent=1,
            default=str,
        )
    print(text)
    print(f"wrote {out_dir / f'results-{stamp}.md'} and .json", file=sys.stderr)
    return 0


def write_profile_summary(prof_dir: Path, out: Path) -> None:
    """CPU profile of the draft saves (all workers): top functions by cumulative time."""
    import io
    import pstats

    files = sorted(str(p) for p in prof_dir.glob("*.prof"))
    if not files:
        return
    buf = io.StringIO()
    stats = pstats.Stats(*files, stream=buf)
    stats.sort_stats("cumulative").print_stats(60)
    stats.sort_stats("tottime").print_stats(30)
    out.write_text(buf.getvalue())
    print(f"profile: {out}", file=sys.stderr)


def report_page_only(page: dict) -> str:
    load = page.get("load")
    extra = ""
    if load:
        d = load["summary"]["draft"]
        extra = (
            f" Saves meanwhile: {d['count']} ({f(d['rps'])}/s), server p50/p95 "
            f"{f(d['server_ms'].get('p50'))}/{f(d['server_ms'].get('p95'))} ms, errors "
            f"{load['summary']['errors']}, other load "
            f"{other_load(load['summary']['cpu'], '')}."
        )
    lines = [
        "",
        f"### Task page {page.get('context', '')}",
        "",
        f"Chromium headless, same page and measures as (b).{extra}",
        "",
        "| cache | loads | ready p50 | ready p95 | ready max | TTFB p50 | constructor p50 |",
        "|---|---|---|---|---|---|---|",
    ]
    for key in ("cold", "warm"):
        s = page[f"{key}_summary"]
        lines.append(
            f"| {key} | {len(page[key])} | {f(s['ready']['p50'])} | "
            f"{f(s['ready']['p95'])} | {f(s['ready']['max'])} | {f(s['ttfb']['p50'])} | "
            f"{f(s['constructor']['p50'])} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
