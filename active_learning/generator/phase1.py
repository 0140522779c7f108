"""Answering a phase-1 request for proposed next steps on a worker (it imports torch through
`services`): the `gpu` task `active_learning.tasks.next_steps_answer` and the command
`answer_phase1_requests` call `next_steps_answer` (docs/phase1.md, "How requests are answered";
the web side that sends the task: active_learning/phase1.py).
"""

import logging

from django.conf import settings
from django.core.cache import cache

from active_learning.generator import services
from active_learning.generator.options import GeneratorOptions
from active_learning.generator.params import generator_options
from active_learning.models import Run
from labeling.errors import ApplicationError
from labeling.models import AlternativesStatus, NextStepAlternatives
from labeling.services.phase1_alternatives import (
    MAX_ALTERNATIVE_LENGTH,
    MAX_ALTERNATIVES,
    alternatives_fill,
)
from labeling.text_policy import TextError, check_text

logger = logging.getLogger(__name__)

RECENT_RUNS = 50  # runs looked at for the project's generator options
# A request whose worker died this many times while answering it (out of memory loading the
# model, a hard time limit) is failed instead of being delivered again forever
# (`reject_on_worker_lost` gives the message back each time).
MAX_ATTEMPTS = 3
ATTEMPTS_SECONDS = 24 * 3600


def _attempts_key(row: NextStepAlternatives) -> str:
    """The cache key counting starts on `row` while it is pending: its id and its last change
    (`updated_at`, which only the end of a request and a re-request move), so a row made again
    with an id an earlier database used (a test database, a reset demo; the cache outlives them)
    or asked again after an answer starts from zero instead of inheriting old deaths."""
    return f"phase1-next-steps-attempts:{row.pk}:{row.updated_at.timestamp():.6f}"


def project_generator_options(project_id: int) -> GeneratorOptions:
    """The project's generator options: those of its latest run with a generate stage (what a
    lead last chose for the project), else the defaults with the GENERATOR_MODEL setting."""
    for params in (
        Run.objects.filter(project_id=project_id)
        .order_by("-id")
        .values_list("params", flat=True)[:RECENT_RUNS]
    ):
        generate = (params or {}).get("generate")
        if isinstance(generate, dict) and isinstance(generate.get("options"), dict):
            try:
                return generator_options(generate["options"])
            except ApplicationError:
                continue  # options of an older version of the code: look further back
    return generator_options(None)


def _usable(steps: list[str]) -> list[str]:
    """The steps `alternatives_fill` accepts (text policy, length), at most MAX_ALTERNATIVES."""
    kept = []
    for step in steps:
        try:
            check_text(step, "step", MAX_ALTERNATIVE_LENGTH)
        except TextError:
            continue
        kept.append(step)
    return kept[:MAX_ALTERNATIVES]


def next_steps_answer(alternatives_id: int, *, model=None) -> str:
    """Sample the next steps a pending request wants and store them (`alternatives_fill`): the
    row becomes `ready` with the steps (source "generator <model>"), or `failed` with an error
    that says why (the model could not be loaded or raised, or wrote no usable step). Never
    leaves the row pending, except when this process is stopped (SystemExit/KeyboardInterrupt
    pass through; with acks_late the task comes back); the MAX_ATTEMPTS-th + 1 try fails it.

    Safe to run twice: a row that is not pending (ready, failed, or gone) is left alone.
    `model`: a ready (model, tokenizer) pair (tests); otherwise the options' model, loaded once
    per process. Returns the row's status after the call ("ready", "failed", "missing")."""
    row = NextStepAlternatives.objects.select_related("problem").filter(pk=alternatives_id).first()
    if row is None:
        return "missing"
    if row.status != AlternativesStatus.PENDING:
        return row.status
    options = project_generator_options(row.project_id)
    source = f"generator {options.model}"
    if _attempt(row) > MAX_ATTEMPTS:
        error = (
            f"The generator {options.model} failed: its worker stopped {MAX_ATTEMPTS} times "
            "while answering (out of memory or a time limit?)."
        )
        return _fill(alternatives_id, error=error, source=source)
    k = row.requested or 1
    try:
        steps = services.sample_next_steps(
            problem=row.problem.text,
            prefix_steps=list(row.prefix),
            k=min(k, MAX_ALTERNATIVES),
            options=options,
            max_new_tokens=settings.PHASE1_MAX_NEW_TOKENS,
            model=model,
        )
    except Exception as exc:
        logger.exception("next steps for request %s failed", alternatives_id)
        error = f"The generator {options.model} failed: {type(exc).__name__}: {exc}"
        return _fill(alternatives_id, error=error, source=source)
    steps = _usable(steps)
    if not steps:
        error = f"The generator {options.model} wrote no usable next step here."
        return _fill(alternatives_id, error=error, source=source)
    return _fill(alternatives_id, texts=steps, source=source)


def _attempt(row: NextStepAlternatives) -> int:
    """Count one more start on this request (1 for the first); 1 when the cache is down."""
    key = _attempts_key(row)
    try:
        cache.add(key, 0, timeout=ATTEMPTS_SECONDS)
        return cache.incr(key)
    except Exception as exc:
        logger.warning("could not count attempts on request %s: %s", row.pk, exc)
        return 1


def _fill(alternatives_id: int, **answer) -> str:
    """Store the answer unless another delivery got there first (the row is ready then)."""
    try:
        return alternatives_fill(alternatives_id=alternatives_id, **answer).status
    except ApplicationError:  # already ready: it never changes
        row = NextStepAlternatives.objects.filter(pk=alternatives_id).first()
        return row.status if row is not None else "missing"
