"""A task for tests that run a real worker (`celery worker -I tests.config.worker_probe_tasks`):
it appends one line to a file, optionally after a pause, so a test can see whether a message
ran, and how many times."""

import time
from pathlib import Path

from celery import shared_task


@shared_task(acks_late=True, name="tests.append_line")
def append_line(path: str, text: str, pause_seconds: float = 0.0) -> None:
    time.sleep(pause_seconds)
    with open(Path(path), "a", encoding="utf-8") as out:
        out.write(text + "\n")
