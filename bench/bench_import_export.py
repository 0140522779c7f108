#!/usr/bin/env python
"""Benchmark of `import_prm800k` and `export_prm800k` against PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_prm \\
        .venv/bin/python bench/bench_import_export.py

For each size (default 10k and 100k labelings, 3 and 2 runs) it generates a synthetic PRM800K
file with bench/gen_prm800k.py (or reuses the one already in --out-dir), then, for each run:

1. drops and re-creates the database named in DATABASE_URL (it must be a scratch database: it is
   destroyed) and runs `manage.py migrate` (not timed), so every import goes into an empty
   database and project;
2. times `manage.py import_prm800k FILE --project bench` (wall, records/s, the command's peak RSS
   and CPU time from os.wait4 on the child; the PostgreSQL backend's CPU time polled from /proc);
3. times `manage.py export_prm800k --project bench OUT` the same way;
4. checks the export equals the input byte for byte with `cmp`.

Before each timed step it issues CHECKPOINT and waits (up to --quiet-timeout) until the rest of
the machine is idle (--quiet), and it records how busy the machine was during the step and a
CPU-speed calibration, because on a shared machine wall times otherwise mean little.

It prints a Markdown report (medians, every run, the machine, the goals) and writes it, with the
raw numbers as JSON, to --out-dir. Commands run with DJANGO_DEBUG=0 (--debug keeps the settings'
default). --app-dir benchmarks another checkout, e.g. a `git archive` snapshot, so that edits in
the working tree during a long run do not change the code under test.

With --solutions it benchmarks the candidate-solution import instead (issue 15: 100,000 tasks of
~1.7 KB importable and servable in 10 s, 1,000,000 in 2 minutes with flat memory). For each size
(bench/gen_solutions.py writes the pool) and run, into a re-created database:

1. `manage.py import_solutions POOL --project bench` (wall, CPU, peak RSS, PostgreSQL CPU);
2. servable: an annotator's first `assignment_next` in the imported project (in-process time);
3. --batches more files of --batch-size new solutions into the same project, one after the
   other (a project's size must not slow its imports: issue 15 saw 5,000-task batches go from
   4 s to 8-18 s);
4. the same pool through an import job (`import_job_run`, what the worker runs for
   `POST /api/imports/`; the upload itself is not timed) into a second project.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_solutions \\
        .venv/bin/python bench/bench_import_export.py --solutions [--sizes 100000,1000000]
"""

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
GOAL_IMPORT_100K_S = 120.0
GOAL_SOLUTIONS_100K_S = 10.0  # importable and servable
GOAL_SOLUTIONS_1M_S = 120.0
GOAL_EXPORT_100K_S = 60.0
FLAT_RATIO = 1.25  # export peak RSS at the largest size vs the smallest: "about equal"


@dataclass
class Measure:
    wall_s: float
    user_s: float
    sys_s: float
    max_rss_mb: float
    rc: int
    output: str
    machine_busy: float = 0.0  # busy CPUs on the whole machine during the run (of os.cpu_count())
    db_cpu_s: float = 0.0  # CPU seconds of the PostgreSQL backend(s) serving the command
    load_before: float = 0.0  # 1-minute load average when the run started


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # without guest time (already counted in user)
    return total - idle, total


def wait_quiet(max_busy: float, timeout: float) -> float:
    """Wait until the machine's other work is under `max_busy` CPUs (2 s samples), at most
    `timeout` seconds; returns the last sample. A shared machine otherwise skews wall times."""
    deadline = time.monotonic() + timeout
    while True:
        busy0, total0 = cpu_jiffies()
        time.sleep(2)
        busy1, total1 = cpu_jiffies()
        busy = (os.cpu_count() or 1) * (busy1 - busy0) / max(total1 - total0, 1)
        if busy <= max_busy or time.monotonic() >= deadline:
            return busy


def load1() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


@dataclass
class Run:
    size: int
    run: int
    import_: Measure
    export: Measure
    identical: bool
    db_size_mb: float
    step_ratings: int
    calibration_s: float  # CPU seconds of a fixed pure-Python task just before this run


CALIBRATION = """
import json, time
t = time.process_time()
s = 0
for i in range(10**7):
    s += i
json.dumps([{"a": i, "b": "x" * 50} for i in range(200000)])
print(time.process_time() - t)
"""


def calibrate(python: str) -> float:
    """CPU speed check: the same fixed task each run (about 1 s); if it varies between runs, the
    machine (or its host) was slower, and wall times of that run are not comparable."""
    out = subprocess.run([python, "-c", CALIBRATION], capture_output=True, text=True, check=True)
    return float(out.stdout)


def fresh_run(args, db: "Database", manage: list[str], app_dir: Path, env: dict) -> float:
    """Start one measured run on an equal footing: the CPU calibration (seconds, see
    `calibrate`), then an empty migrated database, checkpointed, and (unless --quiet is
    negative) a machine that has gone quiet. Returns the calibration."""
    calibration = calibrate(args.python)
    db.recreate()
    subprocess.run([*manage, "migrate", "-v0"], cwd=app_dir, env=env, check=True)
    db.checkpoint()
    if args.quiet >= 0:
        wait_quiet(args.quiet, args.quiet_timeout)
    return calibration


def proc_cpu_s(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BackendCpu(threading.Thread):
    """Polls the CPU time of the PostgreSQL backends connected to `db` (same machine only);
    a backend's last reading before it exits is kept, so the total is short by < 1 poll."""

    def __init__(self, db: "Database", interval: float = 0.2):
        super().__init__(daemon=True)
        self.db, self.interval = db, interval
        self.seen: dict[int, float] = {}
        self.stopping = threading.Event()

    def run(self):
        try:
            conn = psycopg.connect(self.db.admin_url, autocommit=True)
        except psycopg.Error:
            return
        with conn:
            while not self.stopping.is_set():
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.db.name]
                ).fetchall()
                for (pid,) in rows:
                    value = proc_cpu_s(pid)
                    if value is not None:
                        self.seen[pid] = value
                self.stopping.wait(self.interval)

    def total(self) -> float:
        self.stopping.set()
        self.join()
        return sum(self.seen.values())


def measure(cmd: list[str], cwd: Path, env: dict, db: "Database") -> Measure:
    """Run `cmd`, returning its wall time and the child's own rusage (peak RSS, CPU)."""
    log = Path(env["BENCH_LOG"])
    load_before = load1()
    busy0, total0 = cpu_jiffies()
    backend = BackendCpu(db)
    backend.start()
    with open(log, "w+b") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    db_cpu = backend.total()
    with open(log, "rb") as out:
        proc.returncode = os.waitstatus_to_exitcode(status)
        text = out.read().decode("utf-8", "replace")
    busy1, total1 = cpu_jiffies()
    ncpu = os.cpu_count() or 1
    return Measure(
        wall_s=wall,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        max_rss_mb=usage.ru_maxrss / 1024,  # Linux: kilobytes
        rc=proc.returncode,
        output=text[-2000:],
        machine_busy=ncpu * (busy1 - busy0) / max(total1 - total0, 1),
        load_before=load_before,
        db_cpu_s=db_cpu,
    )


class Database:
    def __init__(self, url: str):
        parts = urlsplit(url)
        if not parts.scheme.startswith("postgres"):
            sys.exit(f"DATABASE_URL must be a PostgreSQL URL, got {url!r}")
        self.url = url
        self.name = parts.path.lstrip("/")
        if not self.name or self.name in ("postgres", "template0", "template1"):
            sys.exit(
                f"DATABASE_URL must name a scratch database (it is dropped), got {self.name!r}"
            )
        self.admin_url = urlunsplit(parts._replace(path="/postgres"))

    def admin(self, statement, *, dbname_url: str | None = None):
        with psycopg.connect(dbname_url or self.admin_url, autocommit=True) as conn:
            cur = conn.execute(statement)
            return cur.fetchall() if cur.description else None

    def recreate(self) -> None:
        name = sql.Identifier(self.name)
        self.admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        self.admin(sql.SQL("CREATE DATABASE {}").format(name))

    def checkpoint(self) -> None:
        self.admin("CHECKPOINT")

    def size_mb(self) -> float:
        rows = self.admin(sql.SQL("SELECT pg_database_size({})").format(sql.Literal(self.name)))
        return rows[0][0] / 1e6

    def count(self, table: str) -> int:
        rows = self.admin(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)), dbname_url=self.url
        )
        return rows[0][0]

    def version(self) -> str:
        return self.admin("SELECT version()")[0][0]


def machine_info(python: str, db: Database, app_dir: Path) -> dict:
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
    py_version = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    def git(*args):
        result = subprocess.run(["git", *args], cwd=app_dir, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else None

    marker = app_dir / ".bench-commit"  # a `git archive` snapshot says what it was made from
    if marker.exists():
        commit, dirty = marker.read_text().strip(), ""
    else:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--", "labeling", "config")
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "postgresql": db.version(),
        "python": py_version,
        "kernel": platform.release(),
        "app_dir": str(app_dir),
        "git_commit": commit,
        "git_dirty_labeling": dirty,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def data_file(out_dir: Path, size: int, seed: int, regen: bool, python: str) -> Path:
    path = out_dir / f"prm800k-{size}-seed{seed}.jsonl"
    if path.exists() and not regen:
        print(f"reusing {path}", file=sys.stderr)
        return path
    cmd = [python, str(REPO / "bench" / "gen_prm800k.py"), "--labelings", str(size),
           "--out", str(path), "--seed", str(seed)]  # fmt: skip
    subprocess.run(cmd, check=True)
    return path


def fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def report(runs: list[Run], sizes: list[int], files: dict[int, Path], info: dict, argv: str) -> str:
    lines = []
    lines.append("Medians:\n")
    lines.append(
        "| labelings | file | import wall (s) | import rec/s | import peak RSS (MB) "
        "| export wall (s) | export rec/s | export peak RSS (MB) | export == input |"
    )
    lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")
    medians = {}
    for size in sizes:
        rs = [r for r in runs if r.size == size]
        if not rs:
            continue
        iw = statistics.median(r.import_.wall_s for r in rs)
        ir = statistics.median(r.import_.max_rss_mb for r in rs)
        ew = statistics.median(r.export.wall_s for r in rs)
        er = statistics.median(r.export.max_rss_mb for r in rs)
        ok = all(r.identical for r in rs)
        medians[size] = {"import_wall_s": iw, "import_rss_mb": ir, "export_wall_s": ew,
                         "export_rss_mb": er, "identical": ok, "runs": len(rs)}  # fmt: skip
        lines.append(
            f"| {size:,} | {files[size].stat().st_size / 1e6:,.0f} MB | {fmt(iw)} | "
            f"{size / iw:,.0f} | {fmt(ir, 0)} | {fmt(ew)} | {size / ew:,.0f} | {fmt(er, 0)} | "
            f"{'yes' if ok else '**NO**'} ({len(rs)}/{len(rs)}) |"
        )
    lines.append(
        "\nEvery run. CPU: the command's own user+sys seconds. PG CPU: the PostgreSQL backend's "
        "(polled from /proc; the server must run on this machine). "
        "Busy: average busy CPUs on the whole machine during the step (of "
        f"{os.cpu_count()}; the command plus PostgreSQL is about 1.0-1.3 when nothing else runs). "
        "DB: database size after import. Calib: CPU seconds of a fixed pure-Python task run "
        "just before (a CPU-speed check; same value = comparable runs).\n"
    )
    lines.append(
        "| labelings | run | import wall (s) | import CPU (s) | PG CPU (s) | import RSS (MB) "
        "| busy | export wall (s) | export CPU (s) | PG CPU (s) | export RSS (MB) | busy | cmp "
        "| DB (MB) | step ratings | calib (s) |"
    )
    lines.append(
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|"
    )
    for r in runs:
        i, e = r.import_, r.export
        lines.append(
            f"| {r.size:,} | {r.run} | {fmt(i.wall_s)} | {fmt(i.user_s + i.sys_s)} | "
            f"{fmt(i.db_cpu_s)} | {fmt(i.max_rss_mb, 0)} | {i.machine_busy:.2f} | "
            f"{fmt(e.wall_s)} | {fmt(e.user_s + e.sys_s)} | {fmt(e.db_cpu_s)} | "
            f"{fmt(e.max_rss_mb, 0)} | {e.machine_busy:.2f} | "
            f"{'same' if r.identical else 'DIFFER'} | "
            f"{fmt(r.db_size_mb, 0)} | {r.step_ratings:,} | {r.calibration_s:.2f} |"
        )
    lines.append("\nMachine:\n")
    lines.append(f"- `nproc`: {info['nproc']} ({info['cpu']}), RAM {info['ram_gib']} GiB")
    lines.append(f"- {info['postgresql']}")
    lines.append(f"- Python {info['python']}, kernel {info['kernel']}")
    commit = info["git_commit"] or "?"
    dirty = "clean" if not info["git_dirty_labeling"] else "with local changes"
    lines.append(
        f"- code: commit `{commit[:12]}` ({dirty} under labeling/ and config/), {info['date']}"
    )
    lines.append(f"- command: `{argv}`")

    small, large = min(medians, default=None), max(medians, default=None)
    lines.append("\nGoals:\n")
    if large is not None:
        m = medians[large]
        verdict = "met" if m["import_wall_s"] < GOAL_IMPORT_100K_S else "NOT met"
        lines.append(
            f"- import of {large:,} in under {GOAL_IMPORT_100K_S:.0f} s: median "
            f"{m['import_wall_s']:.1f} s, {verdict}"
            + (" (the goal is for 100,000)" if large != 100_000 else "")
        )
        verdict = "met" if m["export_wall_s"] < GOAL_EXPORT_100K_S else "NOT met"
        lines.append(
            f"- export of {large:,} in under {GOAL_EXPORT_100K_S:.0f} s: median "
            f"{m['export_wall_s']:.1f} s, {verdict}"
        )
    if small is not None and large is not None and small != large:
        low, high = medians[small]["export_rss_mb"], medians[large]["export_rss_mb"]
        ratio = high / low
        lines.append(
            f"- export memory flat: peak RSS {low:.0f} MB at {small:,} vs {high:.0f} MB at "
            f"{large:,} (x{ratio:.2f} for x{large / small:.0f} the data): "
            f"{'flat' if ratio <= FLAT_RATIO else 'NOT flat'}"
        )
    lines.append(
        "- round trip: "
        + (
            "every export byte-identical to its input"
            if all(r.identical for r in runs)
            else "**an export differed**"
        )
    )
    return "\n".join(lines) + "\n"


# --- candidate solutions (--solutions) ------------------------------------------------------

SERVABLE = """
import time
from labeling.models import Membership, Project, Role, User
from labeling.services.assignments import assignment_next
project = Project.objects.get(name="bench")
user, _ = User.objects.get_or_create(username="bench-annotator", defaults={"role": Role.ANNOTATOR})
Membership.objects.get_or_create(project=project, user=user)
started = time.perf_counter()
result = assignment_next(user=user, project_id=project.pk)
print("SERVED", (time.perf_counter() - started) * 1000, result.labeling is not None)
"""

JOB = """
import time
from labeling.jobs import import_job_run
from labeling.models import ImportJob, Project, Role, User
project = Project.objects.create(name="bench-job")
user = User.objects.create(username="bench-researcher", role=Role.RESEARCHER)
job = ImportJob.objects.create(created_by=user, project=project, kind="solutions",
    filename="pool.jsonl", file=%r)
started = time.perf_counter()
import_job_run(job.pk)
elapsed = time.perf_counter() - started
job.refresh_from_db()
print("JOB", elapsed, job.status, repr(job.error))
"""


@dataclass
class SolutionsRun:
    size: int
    run: int
    import_: Measure
    first_next_ms: float
    served: bool
    batches_s: list
    job_s: float
    job_status: str
    db_size_mb: float
    solutions: int
    calibration_s: float


def pool_file(out_dir: Path, size: int, seed: int, python: str, first_problem: int = 0) -> Path:
    path = out_dir / f"pool-{size}-seed{seed}-from{first_problem}.jsonl"
    if not path.exists():
        cmd = [python, str(REPO / "bench" / "gen_solutions.py"), "--solutions", str(size)]
        cmd += ["--seed", str(seed), "--first-problem", str(first_problem), "--out", str(path)]
        subprocess.run(cmd, check=True)
    return path


def shell(manage: list[str], code: str, app_dir: Path, env: dict, tag: str) -> list[str]:
    """Run `code` in `manage.py shell`; the fields of its output line starting with `tag`."""
    done = subprocess.run([*manage, "shell", "-v", "0", "-c", code], cwd=app_dir, env=env,
                          capture_output=True, text=True)  # fmt: skip
    for line in done.stdout.splitlines():
        if line.startswith(tag):
            return line.split()[1:]
    sys.exit(f"{tag} failed:\n{done.stdout}\n{done.stderr}")


def solutions_runs(args, db: Database, manage, app_dir: Path, env: dict, out_dir: Path) -> list:
    sizes = [int(x) for x in args.sizes.split(",")]
    counts = [int(x) for x in args.runs.split(",")]
    counts = counts * len(sizes) if len(counts) == 1 else counts
    runs = []
    for size, count in zip(sizes, counts, strict=True):
        pool = pool_file(out_dir, size, args.seed, args.python)
        first = size // 20 + 1  # gen_solutions: a problem per 20 solutions
        batches = [
            pool_file(
                out_dir,
                args.batch_size,
                args.seed + 1 + i,
                args.python,
                first + i * (args.batch_size // 20 + 1),
            )
            for i in range(args.batches)
        ]
        for run in range(1, count + 1):
            calibration = fresh_run(args, db, manage, app_dir, env)
            imp = measure([*manage, "import_solutions", str(pool), "--project", "bench"],
                          app_dir, env, db)  # fmt: skip
            if imp.rc != 0:
                sys.exit(f"import failed (rc {imp.rc}):\n{imp.output}")
            ms, served = shell(manage, SERVABLE, app_dir, env, "SERVED")
            batch_s = []
            for batch in batches:
                db.checkpoint()
                if args.quiet >= 0:
                    wait_quiet(args.quiet, args.quiet_timeout)
                m = measure([*manage, "import_solutions", str(batch), "--project", "bench"],
                            app_dir, env, db)  # fmt: skip
                if m.rc != 0:
                    sys.exit(f"batch import failed (rc {m.rc}):\n{m.output}")
                batch_s.append(round(m.wall_s, 2))
            solutions = db.count("labeling_solution")
            db.checkpoint()
            if args.quiet >= 0:
                wait_quiet(args.quiet, args.quiet_timeout)
            job_s, status, _ = shell(manage, JOB % str(pool), app_dir, env, "JOB")
            result = SolutionsRun(
                size, run, imp, float(ms), served == "True", batch_s, float(job_s), status,
                db.size_mb(), solutions, calibration,
            )  # fmt: skip
            runs.append(result)
            print(
                f"{size:>8} run {run}: import {imp.wall_s:6.1f}s ({size / imp.wall_s:,.0f}/s, "
                f"{imp.max_rss_mb:.0f} MB, cpu {imp.user_s + imp.sys_s:.1f}s, "
                f"pg {imp.db_cpu_s:.1f}s, busy {imp.machine_busy:.2f})  first next "
                f"{float(ms):.1f} ms  batches {batch_s}  job {float(job_s):.1f}s {status}  "
                f"calib {calibration:.2f}s",
                file=sys.stderr,
                flush=True,
            )
    return runs


def solutions_report(runs: list, info: dict, argv: str, args) -> str:
    lines = ["Medians (import = the `import_solutions` command, Django start-up included):\n"]
    lines.append(
        "| solutions | import wall (s) | rec/s | peak RSS (MB) | CPU (s) | PG CPU (s) "
        "| first next (ms) | import job (s) | later batches of "
        f"{args.batch_size:,} (s) |"
    )
    lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    medians = {}
    for size in sorted({r.size for r in runs}):
        rs = [r for r in runs if r.size == size]
        wall = statistics.median(r.import_.wall_s for r in rs)
        rss = statistics.median(r.import_.max_rss_mb for r in rs)
        job = statistics.median(r.job_s for r in rs)
        medians[size] = {"wall": wall, "rss": rss, "job": job,
                         "servable": all(r.served for r in rs)}  # fmt: skip
        batches = [statistics.median(b) for b in zip(*(r.batches_s for r in rs), strict=True)]
        lines.append(
            f"| {size:,} | {fmt(wall)} | {size / wall:,.0f} | {fmt(rss, 0)} | "
            f"{fmt(statistics.median(r.import_.user_s + r.import_.sys_s for r in rs))} | "
            f"{fmt(statistics.median(r.import_.db_cpu_s for r in rs))} | "
            f"{fmt(statistics.median(r.first_next_ms for r in rs))} | {fmt(job)} | "
            f"{', '.join(fmt(b) for b in batches)} |"
        )
    lines.append("\nEvery run (busy: average busy CPUs of the machine during the import):\n")
    lines.append(
        "| solutions | run | import wall (s) | busy | job (s) | job | DB (MB) | calib (s) |"
    )
    lines.append("|---:|---:|---:|---:|---:|---|---:|---:|")
    for r in runs:
        lines.append(
            f"| {r.size:,} | {r.run} | {fmt(r.import_.wall_s)} | {r.import_.machine_busy:.2f} | "
            f"{fmt(r.job_s)} | {r.job_status} | {fmt(r.db_size_mb, 0)} | {r.calibration_s:.2f} |"
        )
    lines.append("\nMachine:\n")
    lines.append(f"- `nproc`: {info['nproc']} ({info['cpu']}), RAM {info['ram_gib']} GiB")
    lines.append(f"- {info['postgresql']}; Python {info['python']}")
    lines.append(f"- code: commit `{(info['git_commit'] or '?')[:12]}`, {info['date']}")
    lines.append(f"- command: `{argv}`")
    lines.append("\nGoals:\n")
    for size, goal in ((100_000, GOAL_SOLUTIONS_100K_S), (1_000_000, GOAL_SOLUTIONS_1M_S)):
        if size in medians:
            m = medians[size]
            ok = m["wall"] <= goal and m["servable"]
            lines.append(
                f"- {size:,} importable and servable in {goal:.0f} s: median {m['wall']:.1f} s "
                f"(job {m['job']:.1f} s), {'met' if ok else 'NOT met'}"
            )
    if len(medians) > 1:
        low, high = min(medians), max(medians)
        ratio = medians[high]["rss"] / medians[low]["rss"]
        lines.append(
            f"- flat memory: peak RSS {medians[low]['rss']:.0f} MB at {low:,} vs "
            f"{medians[high]['rss']:.0f} MB at {high:,} (x{ratio:.2f} for x{high / low:.0f} the "
            f"data): {'flat' if ratio <= FLAT_RATIO else 'NOT flat'}"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated labeling counts")
    parser.add_argument("--runs", default="3,2", help="runs per size (comma-separated, as --sizes)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out-dir", default=str(REPO / "bench" / "out"))
    parser.add_argument("--app-dir", default=str(REPO), help="the Django project to benchmark")
    parser.add_argument("--python", default=sys.executable, help="interpreter for manage.py")
    parser.add_argument("--regen", action="store_true", help="regenerate the data files")
    parser.add_argument("--debug", action="store_true", help="do not force DJANGO_DEBUG=0")
    parser.add_argument("--keep-exports", action="store_true", help="keep the exported files")
    parser.add_argument(
        "--quiet",
        type=float,
        default=0.3,
        metavar="CPUS",
        help="before each timed step wait (up to --quiet-timeout s) until other work on the "
        "machine uses at most this many CPUs (default 0.3; a negative value does not wait)",
    )
    parser.add_argument("--quiet-timeout", type=float, default=300)
    parser.add_argument(
        "--solutions",
        action="store_true",
        help="benchmark the candidate-solution import (sizes default 100000,1000000)",
    )
    parser.add_argument("--batches", type=int, default=3, help="--solutions: later batches")
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args(argv)
    if args.solutions and args.sizes == "10000,100000":
        args.sizes, args.runs = "100000,1000000", "3,2"

    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("set DATABASE_URL to a scratch PostgreSQL database (it is dropped and re-created)")
    db = Database(url)
    sizes = [int(s) for s in args.sizes.split(",")]
    runs_per = [int(s) for s in args.runs.split(",")]
    if len(runs_per) == 1:
        runs_per = runs_per * len(sizes)
    if len(runs_per) != len(sizes):
        parser.error("--runs needs one count, or one per size")
    out_dir = Path(args.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    app_dir = Path(args.app_dir).resolve()
    manage = [args.python, str(app_dir / "manage.py")]

    env = dict(os.environ, DATABASE_URL=url, PYTHONUNBUFFERED="1")
    if not args.debug:
        env["DJANGO_DEBUG"] = "0"
    env["BENCH_LOG"] = str(out_dir / "bench-command.log")

    info = machine_info(args.python, db, app_dir)
    if args.solutions:
        solution_runs = solutions_runs(args, db, manage, app_dir, env, out_dir)
        shown = " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
        text = solutions_report(solution_runs, info, f"bench/bench_import_export.py {shown}", args)
        print(text)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        (out_dir / f"bench-solutions-{stamp}.md").write_text(text)
        (out_dir / f"bench-solutions-{stamp}.json").write_text(
            json.dumps({"machine": info, "runs": [asdict(r) for r in solution_runs]}, indent=1)
        )
        return 0 if all(r.served and r.job_status == "done" for r in solution_runs) else 1
    files = {size: data_file(out_dir, size, args.seed, args.regen, args.python) for size in sizes}
    runs: list[Run] = []
    for size, count in zip(sizes, runs_per, strict=True):
        for run in range(1, count + 1):
            calibration = fresh_run(args, db, manage, app_dir, env)
            src = files[size]
            imp = measure(
                [*manage, "import_prm800k", str(src), "--project", "bench"], app_dir, env, db
            )
            if imp.rc != 0:
                sys.exit(f"import failed (rc {imp.rc}):\n{imp.output}")
            db.checkpoint()
            if args.quiet >= 0:
                wait_quiet(args.quiet, args.quiet_timeout)
            dst = out_dir / f"export-{size}.jsonl"
            exp = measure(
                [*manage, "export_prm800k", "--project", "bench", str(dst)], app_dir, env, db
            )
            if exp.rc != 0:
                sys.exit(f"export failed (rc {exp.rc}):\n{exp.output}")
            identical = subprocess.run(["cmp", "-s", str(src), str(dst)]).returncode == 0
            ratings = db.count("labeling_steprating")
            result = Run(size, run, imp, exp, identical, db.size_mb(), ratings, calibration)
            runs.append(result)
            if not args.keep_exports:
                dst.unlink()
            print(
                f"{size:>7} run {run}: import {imp.wall_s:6.1f}s ({size / imp.wall_s:,.0f}/s, "
                f"{imp.max_rss_mb:.0f} MB, cpu {imp.user_s + imp.sys_s:.1f}s, "
                f"pg {imp.db_cpu_s:.1f}s)  export {exp.wall_s:6.1f}s "
                f"({size / exp.wall_s:,.0f}/s, {exp.max_rss_mb:.0f} MB, "
                f"cpu {exp.user_s + exp.sys_s:.1f}s, pg {exp.db_cpu_s:.1f}s)  "
                f"{'identical' if identical else 'DIFFERENT'}  "
                f"busy {imp.machine_busy:.2f}/{exp.machine_busy:.2f}  calib {calibration:.2f}s",
                file=sys.stderr,
                flush=True,
            )

    shown_argv = " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    text = report(runs, sizes, files, info, f"bench/bench_import_export.py {shown_argv}".strip())
    print(text)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (out_dir / f"bench-results-{stamp}.md").write_text(text)
    (out_dir / f"bench-results-{stamp}.json").write_text(
        json.dumps({"machine": info, "runs": [asdict(r) for r in runs]}, indent=1)
    )
    return 0 if all(r.identical for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
