"""The Celery application.

Two queues, each with its own workers (docs/operators.md):

- `default`: imports, exports, statistics, selection/publishing and upkeep;
  `celery -A config worker -Q default -n default@%h`
- `grading`: answer grading, in chunks that the worker's processes run in parallel (CPU bound;
  its own queue so that a large pass never holds up an import or an export);
  `celery -A config worker -Q grading -n grading@%h` (prefork: math-verify's timeouts use
  signals)
- `gpu`: PRM training, pool scoring and phase-1 next-step proposals (torch); one task at a
  time per GPU:
  `celery -A config worker -Q gpu --concurrency 1 -n gpu@%h`

Every task is acknowledged after it ran (`acks_late`); the loop's gpu tasks are also given back
to the broker when their worker process dies (`reject_on_worker_lost`, with a guard against a
task that kills its worker every time), each worker reserves one message at a time
(prefetch 1, so a long training never holds a second task hostage), and every task has a soft
and a hard time limit (its own where it sets one, else the defaults below). `celery beat` sends
the loop's watchdog every minute (active_learning.tasks.runs_watchdog).
"""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

DEFAULT_SOFT_TIME_LIMIT = 30 * 60  # seconds; long jobs (training, imports) set their own
DEFAULT_HARD_TIME_LIMIT = DEFAULT_SOFT_TIME_LIMIT + 60
WATCHDOG_EVERY_SECONDS = 60

# Every queue and how one worker process group serves it: the one list that the demo
# (`manage.py rundemo`), `make worker-QUEUE` and `python -m config.worker QUEUE` follow. Each
# queue gets its own worker processes, so light jobs (grading, exports, statistics) never wait
# behind a training or scoring task. A new queue is one entry here plus its `task_routes`.
WORKER_QUEUES = {
    "default": {"concurrency": 2},
    # answer grading: CPU bound, one chunk per process; its own processes, so a large import's
    # grading never holds up imports and exports (raise it on a bigger box)
    "grading": {"concurrency": 2},
    "gpu": {"concurrency": 1},  # one training or scoring task per GPU (or per CPU box)
}

# BrokerAMQP: connections that survive a Redis restart while holding a message (config/broker.py).
app = Celery("steplabel", amqp="config.broker:BrokerAMQP")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_queues=tuple(Queue(name) for name in WORKER_QUEUES),
    task_default_queue="default",
    # Routing by task name; a task's own `queue=` option says the same, this is the one place
    # an operator reads it.
    task_routes={
        "active_learning.tasks.run_start": {"queue": "gpu"},
        "active_learning.tasks.run_score_chunk": {"queue": "gpu"},
        "active_learning.tasks.next_steps_answer": {"queue": "gpu"},  # phase-1 proposals
        "active_learning.tasks.*": {"queue": "default"},
        "labeling.tasks.solutions_grade_task": {"queue": "grading"},
        "labeling.tasks.solutions_grade_chunk_task": {"queue": "grading"},
        "labeling.*": {"queue": "default"},
    },
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_soft_time_limit=DEFAULT_SOFT_TIME_LIMIT,
    task_time_limit=DEFAULT_HARD_TIME_LIMIT,
    # Workers publish task events, so `celery events`, Flower and /healthz can see them.
    worker_send_task_events=True,
    task_send_sent_event=True,
    beat_schedule={
        "active-learning-watchdog": {
            "task": "active_learning.tasks.runs_watchdog",
            "schedule": WATCHDOG_EVERY_SECONDS,
            "options": {"queue": "default", "expires": WATCHDOG_EVERY_SECONDS},
        },
    },
)
# Sending a task while the broker is down fails within a fraction of a second instead of
# retrying for seconds: the web process records the job as queued and moves on (a submit never
# waits on the broker). Workers reconnect on their own (broker_connection_retry).
app.conf.broker_transport_options = {
    **(app.conf.broker_transport_options or {}),
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
    "socket_connect_timeout": 2,
}
app.autodiscover_tasks()
