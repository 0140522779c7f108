#!/usr/bin/env python
"""The labeling hot path under load (issue 15 points 2-4): import, then N simulated annotators
looping next -> open -> draft save -> submit through the real HTTP API.

    .venv/bin/python bench/bench_hotpath.py                                  # the record
    .venv/bin/python bench/bench_hotpath.py --tasks 10000 --duration 10 --warmup 3   # a smoke run

Everything runs on servers of its own (tests/private_services.py): a PostgreSQL cluster with
pg_stat_statements loaded (fsync off, as the other benchmarks), a Redis, gunicorn as
docs/operators.md sizes it (--workers gthread workers x 4 threads, persistent database
connections, DEBUG off) and one `default` Celery worker (statistics refreshes after submits).

Per task count (--tasks, each in a database of its own, cloned from one migrated template):

1. import: `manage.py import_solutions` of that many synthetic tasks (bench/gen_solutions.py:
   8-16 steps, about 1.7 KB a task, as issue 15's harness) into a project with overlap 1, no
   quality control and no retraining, whose annotators exist and whose web server runs; wall
   time including Django's start-up, and until the first `next` serves a task (servable);
2. statements per request: --count-cycles cycles by one annotator; around each request the
   bench reads sum(calls) of pg_stat_statements for the benchmark database (from a connection
   to another database, so its own reads are not counted): the median per request type, BEGIN
   and COMMIT included, PostgreSQL's internal foreign-key checks not (the database's own
   counter, not Django's);
3. one annotator for --duration seconds: latency (client side, wall) of next, open, draft,
   submit: median and p95;
4. for each of --annotators (20, 100): that many annotators (asyncio, one keep-alive connection
   each, no think time) for --warmup + --duration seconds; counted in the last --duration:
   annotations/s (200 submits), errors (a status other than 200/204, or a failed connection),
   the spread of submits per annotator (min, median, max, Jain's fairness index) and per
   gunicorn worker process (from the access log's pid and client port);
5. the RSS of every process (gunicorn master and workers, the Celery worker), sampled every
   second, maximum; duplicates and over-assignment checked in the database at the end (a
   solution submitted more than `overlap` times, or twice by one annotator).

The load average before and after is recorded (the machine is shared: say so with the figures).
Results: bench/out/hotpath/<time>/result.json and report.md (also printed).
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO))

from bench_labeling import Http  # noqa: E402
from gen_solutions import pool as solution_pool  # noqa: E402

from tests.private_services import PostgresServer, RedisServer, free_port  # noqa: E402

PYTHON = sys.executable
PROJECT = "hotpath"
REQUESTS = ("next", "open", "draft", "submit")


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, file=sys.stderr, flush=True)


def manage(env, *args) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", *map(str, args)], cwd=REPO, env=env, capture_output=True, text=True
    )
    if done.returncode:
        sys.exit(f"manage.py {' '.join(map(str, args[:2]))} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


class Postgres(PostgresServer):
    """The private cluster with pg_stat_statements loaded."""

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=top "
            "-c max_connections=200"
        )
        self._run(
            *(self.bin / "pg_ctl", "-D", self.dir / "data", "-o", options),
            *("-l", self.dir / "server.log", "-w", "start"),
        )


class Process:
    def __init__(self, cmd: list[str], env: dict, log_path: Path):
        self.log = open(log_path, "a")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def web_start(env: dict, out: Path, workers: int, keep_alive: int | None) -> tuple[Process, int]:
    port = free_port(range(8141, 8150))
    proc = Process(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "config.wsgi",
            *("--bind", f"127.0.0.1:{port}", "--workers", str(workers)),
            *("--worker-class", "gthread", "--threads", "4", "--timeout", "60"),
            *(("--keep-alive", str(keep_alive)) if keep_alive is not None else ()),
            *("--access-logfile", str(out / "access.log")),
            # pid and client port: which worker process served which annotator
            *("--access-logformat", "%(p)s %({REMOTE_PORT}e)s %(s)s %(U)s"),
        ],
        env,
        out / "web.log",
    )
    deadline = time.monotonic() + 60
    import socket

    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


class RssSampler:
    """Peak RSS (MB) of each process of the given trees, sampled every second."""

    def __init__(self, roots: dict[str, int]):
        self.roots = roots
        self.peak: dict[str, float] = {}
        self.stop = False

    async def run(self):
        import psutil

        while not self.stop:
            for name, pid in self.roots.items():
                with contextlib.suppress(psutil.Error):
                    root = psutil.Process(pid)
                    for i, p in enumerate([root, *root.children(recursive=True)]):
                        key = f"{name} {'master' if i == 0 else p.pid}"
                        mb = p.memory_info().rss / 2**20
                        self.peak[key] = max(self.peak.get(key, 0), round(mb, 1))
            await asyncio.sleep(1)


# --- the annotators ----------------------------------------------------------------------------


@dataclass
class Annotator:
    name: str
    token: str
    http: Http = None
    port: int = 0  # local port of its connection (to match the access log)
    submits: list[float] = field(default_factory=list)  # times of 200 submits
    latencies: dict = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)
    nothing_left: int = 0


async def call(a: Annotator, method: str, path: str, body=None):
    headers = {"Authorization": f"Token {a.token}", "Accept": "application/json"}
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    started = time.perf_counter()
    response = await a.http.request(method, path, headers, data)
    if a.http.writer is not None:
        a.port = a.http.writer.get_extra_info("sockname")[1]
    return response, time.perf_counter() - started


async def cycle(a: Annotator, project: int, on_request=None) -> bool:
    """One task: next, open, one draft save with every step rated, submit. False when there
    was no task (204) or a request failed."""

    async def req(kind, method, path, body=None):
        if on_request:
            await on_request(kind, "before")
        try:
            response, seconds = await call(a, method, path, body)
        except (OSError, asyncio.IncompleteReadError) as exc:
            a.errors[f"{kind}: {type(exc).__name__}"] += 1
            await a.http.close()
            return None
        if on_request:
            await on_request(kind, "after")
        if response.status not in (200, 204):
            a.errors[f"{kind}: {response.status}"] += 1
            return None
        a.latencies[kind].append(seconds)
        return response

    r = await req("next", "POST", "/api/assignments/next/", {"project": project})
    if r is None:
        return False
    if r.status == 204:
        a.nothing_left += 1
        return False
    task = json.loads(r.body)["id"]
    r = await req("open", "GET", f"/api/assignments/{task}/")
    if r is None:
        return False
    steps = len(json.loads(r.body)["steps"])
    marks = [{"rating": 1, "flagged": False}] * steps
    r = await req("draft", "PUT", f"/api/assignments/{task}/draft/", {"steps": marks})
    if r is None:
        return False
    r = await req(
        "submit", "POST", f"/api/assignments/{task}/submit/", {"finish_reason": "solution"}
    )
    if r is None:
        return False
    a.submits.append(time.monotonic())
    return True


async def loop(a: Annotator, project: int, until: float):
    while time.monotonic() < until:
        if not await cycle(a, project) and a.nothing_left:
            break


def pct(values, q):
    values = sorted(values)
    if not values:
        return None
    k = (len(values) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def jain(values) -> float | None:
    """Jain's fairness index: 1 when every annotator got the same, 1/n when one got all."""
    if not values or not any(values):
        return None
    return round(sum(values) ** 2 / (len(values) * sum(v * v for v in values)), 3)


# --- one task count ----------------------------------------------------------------------------


def statements_counter(pg_url: str, db: str):
    import psycopg

    conn = psycopg.connect(pg_url, autocommit=True)  # the `postgres` database: not counted
    oid = conn.execute("SELECT oid FROM pg_database WHERE datname = %s", (db,)).fetchone()[0]

    def total() -> int:
        # Not the foreign-key checks PostgreSQL runs inside an INSERT or UPDATE (`SELECT 1 FROM
        # ONLY <table> x WHERE id = $1 FOR KEY SHARE OF x`, which pg_stat_statements lists
        # even with track=top): they are no round trip and no statement the app sends.
        row = conn.execute(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE dbid = %s "
            "AND query NOT LIKE '%%FOR KEY SHARE OF x'",
            (oid,),
        ).fetchone()
        return int(row[0])

    return conn, total


async def run_size(args, out: Path, pg: Postgres, redis: RedisServer, tasks: int) -> dict:
    import psycopg

    db = f"hot_{tasks}"
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {db} TEMPLATE hot_template")
    env = base_env(pg, redis, db)
    result: dict = {"tasks": tasks}
    pool = out / f"solutions-{tasks}.jsonl"
    with open(pool, "w") as f:
        for record in solution_pool(tasks, args.seed):
            f.write(json.dumps(record) + "\n")
    result["pool_mb"] = round(pool.stat().st_size / 2**20, 1)
    code = (
        "import json; from labeling.models import Project; "
        "from labeling.services.users import user_create; "
        "from active_learning.models import LoopSettings; "
        f"p = Project.objects.create(name={PROJECT!r}, qc_rate=0, overlap=1); "
        "LoopSettings.objects.update_or_create(project=p, defaults={'retrain_every': 0}); "
        f"tokens = [user_create(username=f'hot{{i:03d}}', role='annotator', project=p)[1].key "
        f"for i in range({max(args.annotators) + 2})]; "
        "print(json.dumps({'project': p.pk, 'tokens': tokens}))"
    )
    data = json.loads(manage(env, "shell", "-c", code).strip().splitlines()[-1])
    project, tokens = data["project"], data["tokens"]
    (out / f"web-{tasks}").mkdir(exist_ok=True)
    web, port = web_start(env, out / f"web-{tasks}", args.workers, args.keep_alive)
    worker = Process(
        [PYTHON, "-m", "celery", "-A", "config", "worker", "-Q", "default", "--concurrency", "1"],
        env,
        out / f"worker-{tasks}.log",
    )
    sampler = RssSampler({"gunicorn": web.proc.pid, "celery": worker.proc.pid})
    sampling = asyncio.create_task(sampler.run())
    try:
        # importable and servable: from the start of the import (into the project the
        # annotators are members of, with the web server up) to the first task served
        log(f"{tasks} tasks: importing")
        started = time.monotonic()
        manage(env, "import_solutions", pool, "--project", PROJECT)
        result["import_s"] = round(time.monotonic() - started, 2)
        first = Annotator("first", tokens[-1], Http("127.0.0.1", port))
        response, _ = await call(first, "POST", "/api/assignments/next/", {"project": project})
        result["servable_s"] = round(time.monotonic() - started, 2)
        result["first_next_status"] = response.status
        await first.http.close()

        # statements per request, from the database's own counter
        conn, total = statements_counter(pg.url, db)
        conn.execute("SELECT pg_stat_statements_reset()")
        counter = Annotator("counter", tokens[-2], Http("127.0.0.1", port))
        counts: dict[str, list[int]] = defaultdict(list)
        mark = {}

        async def on_request(kind, when):
            if when == "before":
                mark[kind] = total()
            else:
                counts[kind].append(total() - mark[kind])

        for _ in range(args.count_cycles):
            await cycle(counter, project, on_request)
        await counter.http.close()
        # what the counting cycles ran, most frequent first (a diagnosis of the counts)
        result["statements_run"] = [
            {"calls": calls, "query": " ".join(query.split())[:200]}
            for calls, query in conn.execute(
                "SELECT s.calls, s.query FROM pg_stat_statements s "
                "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s "
                "ORDER BY s.calls DESC LIMIT 25",
                (db,),
            )
        ]
        conn.close()
        result["statements"] = {k: statistics.median(v) for k, v in counts.items()}

        # one annotator
        single = Annotator("single", tokens[0], Http("127.0.0.1", port))
        log(f"{tasks} tasks: one annotator, {args.duration} s")
        await loop(single, project, time.monotonic() + args.duration)
        await single.http.close()
        result["single"] = {
            kind: {
                "median_ms": round(1000 * statistics.median(v), 2),
                "p95_ms": round(1000 * pct(v, 0.95), 2),
                "n": len(v),
            }
            for kind, v in single.latencies.items()
        }
        result["single"]["errors"] = sum(single.errors.values())

        result["load"] = {}
        for n in args.annotators:
            log(f"{tasks} tasks: {n} annotators, {args.warmup}+{args.duration} s")
            access = out / f"web-{tasks}" / "access.log"
            offset = access.stat().st_size if access.exists() else 0
            crowd = [Annotator(f"a{i}", tokens[i], Http("127.0.0.1", port)) for i in range(n)]
            t0 = time.monotonic()
            count_from, until = t0 + args.warmup, t0 + args.warmup + args.duration
            await asyncio.gather(*(loop(a, project, until) for a in crowd))
            for a in crowd:
                await a.http.close()
            per = [sum(1 for t in a.submits if t >= count_from) for a in crowd]
            errors = Counter()
            for a in crowd:
                errors.update(a.errors)
            entry = {
                "annotations_per_s": round(sum(per) / args.duration, 1),
                "submits": sum(per),
                "errors": sum(errors.values()),
                "error_kinds": dict(errors),
                "nothing_left": sum(a.nothing_left for a in crowd),
                "per_annotator": {
                    "min": min(per),
                    "median": statistics.median(per),
                    "max": max(per),
                    "jain": jain(per),
                },
                "latency_ms": {
                    kind: {
                        "median": round(1000 * statistics.median(v), 1),
                        "p95": round(1000 * pct(v, 0.95), 1),
                    }
                    for kind in REQUESTS
                    if (v := [x for a in crowd for x in a.latencies[kind]])
                },
            }
            entry["per_worker"] = per_worker(access, offset, crowd, per)
            result["load"][str(n)] = entry
    finally:
        sampler.stop = True
        await sampling
        worker.stop()
        web.stop()
    result["rss_mb"] = sampler.peak
    result["check"] = check(pg, db)
    return result


def per_worker(access: Path, offset: int, crowd: list[Annotator], per: list[int]) -> dict:
    """Annotators and their submits grouped by the gunicorn worker that served them (a
    keep-alive connection stays with the process that accepted it)."""
    pid_of_port: dict[int, str] = {}
    with contextlib.suppress(FileNotFoundError), open(access) as f:
        f.seek(offset)
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                pid_of_port[int(parts[1])] = parts[0].strip("<>")
    groups: dict[str, list[int]] = defaultdict(list)
    for a, n in zip(crowd, per, strict=True):
        groups[pid_of_port.get(a.port, "?")].append(n)
    return {
        pid: {"annotators": len(v), "submits": sum(v), "per_annotator_median": statistics.median(v)}
        for pid, v in groups.items()
    }


def check(pg: Postgres, db: str) -> dict:
    import psycopg

    with psycopg.connect(pg.url.rsplit("/", 1)[0] + f"/{db}") as conn:
        over = conn.execute(
            "SELECT count(*) FROM (SELECT l.solution_id FROM labeling_labeling l "
            "JOIN labeling_project p ON p.id = l.project_id WHERE l.status = 'submitted' "
            "GROUP BY l.solution_id, p.overlap HAVING count(*) > p.overlap) x"
        ).fetchone()[0]
        twice = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM labeling_labeling WHERE status = 'submitted' "
            "GROUP BY labeler_id, solution_id HAVING count(*) > 1) x"
        ).fetchone()[0]
        submitted = conn.execute(
            "SELECT count(*) FROM labeling_labeling WHERE status = 'submitted'"
        ).fetchone()[0]
    return {"submitted": submitted, "over_assigned": over, "duplicates": twice}


def base_env(pg: Postgres, redis: RedisServer, db: str) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": pg.url.rsplit("/", 1)[0] + f"/{db}",
        "REDIS_URL": redis.url,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "0",
        "DATABASE_CONN_MAX_AGE": "60",
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
    }
    env.pop("CACHE_URL", None)
    return env


async def main_async(args, out: Path) -> dict:
    import psycopg

    pg = Postgres()
    redis = RedisServer(out / "redis")
    result: dict = {"args": vars(args), "sizes": []}
    try:
        pg.start()
        redis.start()
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE hot_template")
        env = base_env(pg, redis, "hot_template")
        log("migrating the template database")
        manage(env, "migrate", "--no-input", "-v", "0")
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        for tasks in args.tasks:
            result["sizes"].append(await run_size(args, out, pg, redis, tasks))
    finally:
        redis.stop()
        pg.remove()
    return result


def report(result: dict) -> str:
    args = result["args"]
    lines = [
        f"Hot path benchmark, {result['when']}; load average before {result['load_before']}, "
        f"after {result['load_after']}; {os.cpu_count()} CPUs; gunicorn {args['workers']} gthread "
        f"workers x 4 threads, keep-alive {args.get('keep_alive') or 0} s; "
        f"{args['duration']} s counted after {args['warmup']} s warm-up.",
        "",
        "| tasks | import s | servable s | next ms (med/p95) | open ms | draft ms | submit ms "
        "| statements next/open/draft/submit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in result["sizes"]:
        single, st = s["single"], s["statements"]

        def lat(kind, single=single):
            v = single.get(kind)
            return f"{v['median_ms']} / {v['p95_ms']}" if v else "-"

        stm = " / ".join(f"{st.get(k, '-')}" for k in REQUESTS)
        lines.append(
            f"| {s['tasks']:,} | {s['import_s']} | {s['servable_s']} | {lat('next')} "
            f"| {lat('open')} | {lat('draft')} | {lat('submit')} | {stm} |"
        )
    lines += [
        "",
        "| tasks | annotators | annotations/s | errors | duplicates | over-assigned "
        "| per annotator min / median / max (Jain) | per worker: annotators, median submits "
        "| submit ms med/p95 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in result["sizes"]:
        for n, e in s["load"].items():
            pa = e["per_annotator"]
            workers = "; ".join(
                f"{w['annotators']}: {w['per_annotator_median']}"
                for w in sorted(e["per_worker"].values(), key=lambda w: -w["annotators"])
            )
            sub = e["latency_ms"].get("submit", {})
            lines.append(
                f"| {s['tasks']:,} | {n} | {e['annotations_per_s']} | {e['errors']} "
                f"| {s['check']['duplicates']} | {s['check']['over_assigned']} "
                f"| {pa['min']} / {pa['median']} / {pa['max']} ({pa['jain']}) | {workers} "
                f"| {sub.get('median', '-')} / {sub.get('p95', '-')} |"
            )
    lines += ["", "Peak RSS (MB):", ""]
    for s in result["sizes"]:
        rss = ", ".join(f"{k} {v}" for k, v in sorted(s["rss_mb"].items()))
        lines.append(f"- {s['tasks']:,} tasks: {rss}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", default="10000,100000", help="comma-separated task counts")
    ap.add_argument("--annotators", default="20,100", help="comma-separated crowd sizes")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds counted per phase")
    ap.add_argument("--warmup", type=float, default=10.0, help="seconds before counting")
    ap.add_argument("--count-cycles", type=int, default=15)
    ap.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    ap.add_argument(
        "--keep-alive",
        type=int,
        default=None,
        help="gunicorn --keep-alive seconds (default: gunicorn.conf.py's, 0: close each time)",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=str(BENCH / "out" / "hotpath"))
    args = ap.parse_args(argv)
    args.tasks = [int(x) for x in str(args.tasks).split(",")]
    args.annotators = [int(x) for x in str(args.annotators).split(",")]
    out = Path(args.out) / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True)
    random.seed(args.seed)
    load_before = [round(x, 2) for x in os.getloadavg()]
    result = asyncio.run(main_async(args, out))
    result["when"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    result["load_before"] = load_before
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    (out / "result.json").write_text(json.dumps(result, indent=2, default=str))
    text = report(result)
    (out / "report.md").write_text(text)
    print(text)
    bad = any(s["check"]["duplicates"] or s["check"]["over_assigned"] for s in result["sizes"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
