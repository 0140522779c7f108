"""Start the Celery worker of one queue the way config/celery.py's WORKER_QUEUES says:

    python -m config.worker QUEUE [more celery worker options]

(`make worker-QUEUE` runs this; the demo starts one per queue.)
"""

import os
import sys

# the queue table lives with the Celery app; importing it configures nothing else
from config.celery import WORKER_QUEUES


def worker_argv(
    queue: str, *extra: str, loglevel: str = "INFO", name: str | None = None
) -> list[str]:
    """The command line of a worker process group for `queue` (its concurrency from
    WORKER_QUEUES, named `name`, by default `QUEUE@%h`). Raises KeyError naming the known
    queues."""
    if queue not in WORKER_QUEUES:
        raise KeyError(f"no queue {queue!r}; the queues are {', '.join(WORKER_QUEUES)}")
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-Q",
        queue,
        "--concurrency",
        str(WORKER_QUEUES[queue]["concurrency"]),
        "--loglevel",
        loglevel,
        "-n",
        name or f"{queue}@%h",
        *extra,
    ]


def main(argv: list[str]) -> None:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print(f"queues: {', '.join(WORKER_QUEUES)}")
        raise SystemExit(0 if argv else 2)
    try:
        command = worker_argv(argv[0], *argv[1:])
    except KeyError as exc:
        raise SystemExit(exc.args[0]) from None
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
