"""CPU time per labeling hot-path request inside the Django process (issue 15, point 2).

Sends annotation cycles (next -> open -> draft save -> submit, as bench/bench_hotpath.py's
annotators do) through Django's WSGI handler in this process, with no HTTP server and no client
in between, and measures the CPU time of the request's thread (`time.thread_time`) from the WSGI
call until the response is closed: URL routing, middleware, authentication, parsing, the view,
the services, the database driver's work and rendering; not PostgreSQL's own CPU. Reports the
median, per endpoint, over --cycles cycles after --warmup cycles.

Each run makes a project of its own with one task per cycle in the database of DATABASE_URL
(migrated first; a test or development database, never production) and one annotator who
authenticates with an API token (`Authorization: Token`, as scripts and the benchmark do) or,
with --auth session, with a login session and a CSRF token (as the task page does).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/steplabel_x REDIS_URL=redis://127.0.0.1:6379/1 \
        PYTHONPATH=$PWD .venv/bin/python bench/bench_hot_cpu.py --cycles 300 --warmup 50

--compare REV runs the same measurement, alternately, on this tree and on the tree of git
revision REV (exported to a temporary directory; same Python environment, database and
machine state), --rounds times each, and prints the medians of the runs' medians per endpoint
side by side: on a shared machine compare these ratios, not figures from different times.
--profile FILE writes a cProfile (CPU clock) of the measured requests to FILE (pstats format).
"""

import argparse
import cProfile
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENDPOINTS = ["next", "open", "draft", "submit"]
STEPS = [f"Step {i}: $x_{i} = {i}$, and so on, with words to make it longer." for i in range(12)]
STEPS[-1] += "\n\n# Answer\n\n3"


def _environ(method: str, path: str, body: bytes | None, headers: dict) -> dict:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body or b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "HTTP_HOST": "localhost",
        "HTTP_ACCEPT": "application/json",
    }
    if body is not None:
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(body))
    environ.update(headers)
    return environ


def _setup(cycles: int, auth: str) -> tuple[int, dict]:
    """A project with `cycles` open tasks and its annotator; returns the project's id and the
    request headers (WSGI environ keys) that authenticate the annotator."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret

    from labeling.models import Generation, GenerationItem, Problem, Project, Solution
    from labeling.services.prm800k import sha256, steps_hash
    from labeling.services.users import user_create

    stamp = f"{os.getpid()}-{time.time_ns()}"
    project = Project.objects.create(name=f"bench-hot-cpu {stamp}", overlap=1, qc_rate=0)
    generation = Generation.objects.create(project=project, number=0)
    for rank in range(1, cycles + 1):
        text = f"What is {rank} + 2? ({stamp})"
        problem = Problem.objects.create(
            project=project, text=text, text_hash=sha256(text), reference_answer="3"
        )
        steps = [*STEPS[:-1], f"{rank}: {STEPS[-1]}"]
        solution = Solution.objects.create(
            problem=problem,
            project=project,
            steps=steps,
            steps_hash=steps_hash(steps),
            final_answer="3",
        )
        GenerationItem.objects.create(generation=generation, solution=solution, rank=rank)
    user, token = user_create(username=f"bench-{stamp}", role="annotator", project=project)
    if auth == "token":
        return project.pk, {"HTTP_AUTHORIZATION": f"Token {token.key}"}
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    secret = _get_new_csrf_string()
    cookies = f"{settings.SESSION_COOKIE_NAME}={session.session_key}; csrftoken={secret}"
    return project.pk, {
        "HTTP_COOKIE": cookies,
        "HTTP_X_CSRFTOKEN": _mask_cipher_secret(secret),
        "HTTP_REFERER": "http://localhost/",
    }


def measure(cycles: int, warmup: int, auth: str, profile: str | None) -> dict:
    """Medians (ms of CPU per request) by endpoint, and the request count."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    project, headers = _setup(cycles + warmup, auth)
    handler = WSGIHandler()
    marks = json.dumps([{"rating": 1, "flagged": False}] * len(STEPS)).encode()
    times: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    profiler = cProfile.Profile(time.thread_time) if profile else None

    def call(name, method, path, body=None, keep=True):
        status = []

        def start_response(s, h, exc_info=None):
            status.append(s)

        environ = _environ(method, path, body, headers)
        if keep and profiler:
            profiler.enable()
        began = time.thread_time()
        result = handler(environ, start_response)
        content = b"".join(result)
        if hasattr(result, "close"):
            result.close()
        spent = time.thread_time() - began
        if keep and profiler:
            profiler.disable()
        if not status[0].startswith("200"):
            raise SystemExit(f"{name}: {status[0]} {content[:300]!r}")
        if keep:
            times[name].append(spent * 1000)
        return content

    for i in range(cycles + warmup):
        keep = i >= warmup
        body = json.dumps({"project": project}).encode()
        task = json.loads(call("next", "POST", "/api/assignments/next/", body, keep))["id"]
        call("open", "GET", f"/api/assignments/{task}/", keep=keep)
        call("draft", "PUT", f"/api/assignments/{task}/draft/", b'{"steps": ' + marks + b"}", keep)
        done = json.dumps({"finish_reason": "solution"}).encode()
        call("submit", "POST", f"/api/assignments/{task}/submit/", done, keep)
    if profiler:
        profiler.dump_stats(profile)
    medians = {name: statistics.median(values) for name, values in times.items()}
    medians["annotation"] = sum(medians.values())
    return {"median_ms": medians, "requests": cycles * len(ENDPOINTS)}


def _run_tree(tree: Path, args) -> dict:
    cmd = [
        sys.executable,
        str(tree / "bench" / "bench_hot_cpu.py"),
        "--cycles",
        str(args.cycles),
        "--warmup",
        str(args.warmup),
        "--auth",
        args.auth,
        "--json",
    ]
    script = Path(__file__).resolve()
    if not (tree / "bench" / "bench_hot_cpu.py").exists():
        cmd[1] = str(script)  # an older tree without this script: measure it with this one
    env = {**os.environ, "PYTHONPATH": str(tree), "DJANGO_DEBUG": "0"}
    out = subprocess.run(cmd, env=env, cwd=tree, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(args) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-hot-cpu-") as tmp:
        old = Path(tmp)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", args.compare], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        runs: dict[str, list[dict]] = {"old": [], "new": []}
        for r in range(args.rounds):
            for label, tree in (("old", old), ("new", REPO)):
                result = _run_tree(tree, args)["median_ms"]
                runs[label].append(result)
                shown = ", ".join(f"{k} {v:.2f}" for k, v in result.items())
                print(f"round {r + 1} {label}: {shown}", flush=True)
    print(f"\nmedian of {args.rounds} runs' medians, ms CPU per request ({args.auth} auth):")
    print(f"| request | {args.compare} | this tree | ratio |\n|---|---:|---:|---:|")
    for name in [*ENDPOINTS, "annotation"]:
        before = statistics.median(run[name] for run in runs["old"])
        after = statistics.median(run[name] for run in runs["new"])
        print(f"| {name} | {before:.2f} | {after:.2f} | {after / before:.2f} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=300, help="measured cycles")
    parser.add_argument("--warmup", type=int, default=50, help="cycles before measuring")
    parser.add_argument("--auth", choices=["token", "session"], default="token")
    parser.add_argument("--profile", help="write a cProfile of the measured requests here")
    parser.add_argument("--compare", metavar="REV", help="also measure git revision REV")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each tree (--compare)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.compare:
        compare(args)
        return 0
    os.environ.setdefault("DJANGO_DEBUG", "0")
    result = measure(args.cycles, args.warmup, args.auth, args.profile)
    if args.json:
        print(json.dumps(result))
    else:
        for name, value in result["median_ms"].items():
            print(f"{name:>10}: {value:.2f} ms CPU per request (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
