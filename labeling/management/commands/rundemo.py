"""Run the embedded demo: a Celery worker process beside the web server, both stopped together.

The broker is whatever settings say: with no REDIS_URL, kombu's filesystem transport under
var/broker (no server needed).
"""

import ctypes
import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Start a Celery worker process and the web server (the embedded demo)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("DEMO_ADDR", "127.0.0.1:8000"))

    def handle(self, *args, addr, **options):
        settings.BROKER_DIR.mkdir(parents=True, exist_ok=True)  # also beat's schedule file
        if settings.CELERY_BROKER_URL == "filesystem://":
            for folder in ("queue", "processed"):
                (settings.BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                # one worker for both queues (grading, exports; training and scoring), with
                # beat embedded for the loop's watchdog; two processes, so that a retraining
                # (minutes on CPU) does not hold up grading, exports and statistics
                "-Q",
                "default,gpu",
                "--concurrency",
                "2",
                "--beat",
                "--schedule",
                str(settings.BROKER_DIR / "celerybeat-schedule"),
                "--loglevel",
                "INFO",
                "-n",
                "demo@%h",
            ],
            preexec_fn=_die_with_parent,
        )
        self.stdout.write(
            f"Celery worker started (pid {worker.pid}), broker {settings.CELERY_BROKER_URL}"
        )
        self.stdout.write(
            self.style.SUCCESS(f"\nOpen http://{addr}/ and log in with a demo login.\n")
        )
        # SIGTERM (e.g. from a process manager) must also stop the worker: turn it into an exit.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            call_command("runserver", addr, use_reloader=False)
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()


PR_SET_PDEATHSIG = 1  # prctl(2): the signal a child gets when its parent dies


def _die_with_parent() -> None:
    """In the worker process, before exec: ask Linux to stop it if the demo is killed outright."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
