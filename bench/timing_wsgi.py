"""The project's WSGI application with server-side timing, for bench/bench_labeling.py.

    gunicorn --pythonpath bench timing_wsgi:application ...

Wraps `config.wsgi.application` (no app code is changed) and adds to every response

    Server-Timing: app;dur=<ms>, db;dur=<ms>, conn;dur=<ms>, commit;dur=<ms>, cpu;dur=<ms>
    X-Queries: <number of SQL statements>

`app` is the time from the WSGI call until Django calls start_response: for an ordinary (not
streamed) response that is the whole of Django's work (middleware, authentication, view, the
transaction's commit), everything but the end-of-request signal. `db` is the time inside
`cursor.execute` (every SQL statement), `commit` the time in COMMIT, `conn` the time spent opening
database connections (with CONN_MAX_AGE=0, one per request), `cpu` the CPU time the request's
thread used in that span (`time.thread_time`: Python and psycopg work, not PostgreSQL's; with
several threads per worker it excludes the other threads, unlike `app`, which includes waits for
the GIL and for a CPU).

With BENCH_TIMING_DIR set, each worker also appends one line per request to
`$BENCH_TIMING_DIR/w<pid>.tsv`: start (unix s), method, path, status, app ms, full ms (until the
response is closed, i.e. also the request_finished signal that closes the DB connection), db ms,
conn ms, commit ms, queries.

With BENCH_PROFILE_DIR set, requests whose path matches BENCH_PROFILE_MATCH (default "/draft/")
run under cProfile (wall time; BENCH_PROFILE_TIMER=cpu for CPU time), and each worker dumps
its aggregated profile to `$BENCH_PROFILE_DIR/w<pid>.prof` every 200 profiled requests (and at
exit).
"""

import atexit
import os
import threading
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from django.db import connections

from config.wsgi import application as django_application

_local = threading.local()


def _counters():
    c = getattr(_local, "c", None)
    if c is None:
        c = _local.c = {"db": 0.0, "conn": 0.0, "commit": 0.0, "n": 0}
    return c


def _execute_wrapper(execute, sql, params, many, context):
    c = _counters()
    t = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        c["db"] += time.perf_counter() - t
        c["n"] += 1


def _timed(cls, name, key):
    original = getattr(cls, name)

    def timed(self, *args, **kwargs):
        c = _counters()
        t = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            c[key] += time.perf_counter() - t

    setattr(cls, name, timed)


_wrapper_class = type(connections["default"])
_timed(_wrapper_class, "connect", "conn")
_timed(_wrapper_class, "_commit", "commit")

_log_dir = os.environ.get("BENCH_TIMING_DIR")
_log = None

_profile_dir = os.environ.get("BENCH_PROFILE_DIR")
_profile_match = os.environ.get("BENCH_PROFILE_MATCH", "/draft/")
_profiler = None
_profiled = 0


def _dump_profile():
    if _profiler is not None:
        _profiler.dump_stats(os.path.join(_profile_dir, f"w{os.getpid()}.prof"))


if _profile_dir:
    import cProfile

    os.makedirs(_profile_dir, exist_ok=True)
    atexit.register(_dump_profile)


def _log_file():
    global _log
    if _log is None:
        os.makedirs(_log_dir, exist_ok=True)
        _log = open(os.path.join(_log_dir, f"w{os.getpid()}.tsv"), "a", buffering=1)  # noqa: SIM115
    return _log


class _Closing:
    """The response body; on close, logs the full time of the request."""

    def __init__(self, body, done):
        self.body = body
        self.done = done

    def __iter__(self):
        return iter(self.body)

    def close(self):
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.done()


def application(environ, start_response):
    global _profiler, _profiled
    conn = connections["default"]
    if _execute_wrapper not in conn.execute_wrappers:
        conn.execute_wrappers.append(_execute_wrapper)
    c = _counters()
    c.update(db=0.0, conn=0.0, commit=0.0, n=0)
    wall = time.time()
    cpu0 = time.thread_time()
    t0 = time.perf_counter()
    seen = {}
    path = environ.get("PATH_INFO", "")
    profiling = bool(_profile_dir) and _profile_match in path
    if profiling and _profiler is None:
        # BENCH_PROFILE_TIMER=cpu: CPU time of the worker only (not waits on PostgreSQL)
        cpu = os.environ.get("BENCH_PROFILE_TIMER") == "cpu"
        _profiler = cProfile.Profile(time.process_time) if cpu else cProfile.Profile()

    def timed_start_response(status, headers, exc_info=None):
        app_s = time.perf_counter() - t0
        cpu_s = time.thread_time() - cpu0
        seen.update(status=status.split(" ", 1)[0], app=app_s, **c)
        headers = list(headers)
        headers.append(
            (
                "Server-Timing",
                f"app;dur={app_s * 1000:.3f}, db;dur={c['db'] * 1000:.3f}, "
                f"conn;dur={c['conn'] * 1000:.3f}, commit;dur={c['commit'] * 1000:.3f}, "
                f"cpu;dur={cpu_s * 1000:.3f}",
            )
        )
        headers.append(("X-Queries", str(c["n"])))
        if exc_info is not None:
            return start_response(status, headers, exc_info)
        return start_response(status, headers)

    if profiling:
        _profiler.enable()
    try:
        body = django_application(environ, timed_start_response)
    finally:
        if profiling:
            _profiler.disable()
            _profiled += 1
            if _profiled % 200 == 0:
                _dump_profile()

    if not _log_dir:
        return body

    def done():
        full = time.perf_counter() - t0
        _log_file().write(
            f"{wall:.6f}\t{environ.get('REQUEST_METHOD')}\t{path}\t{seen.get('status', '-')}\t"
            f"{seen.get('app', 0) * 1000:.3f}\t{full * 1000:.3f}\t{seen.get('db', 0) * 1000:.3f}\t"
            f"{seen.get('conn', 0) * 1000:.3f}\t{seen.get('commit', 0) * 1000:.3f}\t"
            f"{seen.get('n', 0)}\n"
        )

    return _Closing(body, done)
