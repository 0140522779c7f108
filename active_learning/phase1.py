"""Answering phase-1 requests for proposed next steps (docs/phase1.md, "How requests are
answered"): the web side, with no torch.

When a phase-1 annotator reaches a point with no proposals, labeling stores a pending
`NextStepAlternatives` row and fires `labeling.hooks.next_steps_wanted(project_id,
alternatives_id, k)` after its commit. `next_steps_enqueue` (subscribed in
`ActiveLearningConfig.ready()`) sends the task `active_learning.tasks.next_steps_answer` to the
`gpu` queue by name (the web process never imports the tasks module, which reaches torch); a
gpu worker samples the steps and fills the row (active_learning/generator/phase1.py).

The watchdog (beat, every minute) calls `next_steps_catch_up`, which sends the task again for
requests still pending after `PHASE1_ANSWER_AFTER_SECONDS` (the broker was down, or the message
was lost), at most once per `RESEND_SECONDS` per request; `manage.py answer_phase1_requests`
answers them in its own process. The task is safe to deliver twice: a row that is no longer
pending is left alone.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from config.celery import app
from labeling.models import AlternativesStatus, NextStepAlternatives

logger = logging.getLogger(__name__)

# The worker's task (active_learning/tasks.py), routed to the `gpu` queue (config/celery.py).
NEXT_STEPS_TASK = "active_learning.tasks.next_steps_answer"
# After a request was (re)sent, the catch-up leaves it this long before sending it again: a
# request queued behind a long training on the gpu queue is not sent once a minute.
RESEND_SECONDS = 15 * 60


def _marker(alternatives_id: int) -> str:
    return f"phase1-next-steps-sent:{alternatives_id}"


def next_steps_enqueue(project_id: int, *, alternatives_id: int, k: int) -> bool:
    """The `next_steps_wanted` subscriber: send `next_steps_answer(alternatives_id)` to the gpu
    queue. Never raises (it runs in the annotator's request, after the commit): False and a log
    line when the broker cannot be reached, and the watchdog's catch-up sends it later.
    `project_id` and `k` are the hook's; the worker reads both from the row."""
    try:
        app.send_task(NEXT_STEPS_TASK, (alternatives_id,), queue="gpu", retry=False)
    except Exception as exc:
        logger.warning(
            "could not queue next steps for request %s of project %s: %s",
            alternatives_id,
            project_id,
            exc,
        )
        return False
    cache.set(_marker(alternatives_id), 1, timeout=RESEND_SECONDS)
    return True


def stale_requests(*, older_than: float | None = None, project_id: int | None = None):
    """Pending requests (ids, oldest first) last changed more than `older_than` seconds ago
    (default: the PHASE1_ANSWER_AFTER_SECONDS setting)."""
    if older_than is None:
        older_than = settings.PHASE1_ANSWER_AFTER_SECONDS
    rows = NextStepAlternatives.objects.filter(
        status=AlternativesStatus.PENDING,
        updated_at__lte=timezone.now() - timedelta(seconds=older_than),
    )
    if project_id is not None:
        rows = rows.filter(project_id=project_id)
    return rows.order_by("id")


def next_steps_catch_up(*, older_than: float | None = None, limit: int = 100) -> list[int]:
    """The watchdog's part (every minute): send the task again for requests pending longer than
    `older_than` seconds (default PHASE1_ANSWER_AFTER_SECONDS) and not sent in the last
    `RESEND_SECONDS`. Returns the ids sent. Redelivery-safe: the task leaves a row that is no
    longer pending alone."""
    sent = []
    for pk, project_id, k in stale_requests(older_than=older_than).values_list(
        "pk", "project_id", "requested"
    )[:limit]:
        if cache.add(_marker(pk), 1, timeout=RESEND_SECONDS):
            if next_steps_enqueue(project_id, alternatives_id=pk, k=k):
                sent.append(pk)
            else:
                cache.delete(_marker(pk))
    return sent
