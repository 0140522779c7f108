"""A run's record: its log, its stage and progress, starting it on a worker, failing it, and
the silence clock the watchdog reads (a running run that stops sending heartbeats is dead).
"""

import time
import traceback
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, TextField, Value
from django.db.models.functions import Concat, Greatest
from django.utils import timezone

from active_learning.models import (
    ACTIVE_RUN_STATUSES,
    ModelStatus,
    ModelVersion,
    Run,
    RunStage,
    RunStatus,
)
from labeling.errors import ApplicationError
from labeling.models import Project


def stale_after() -> timedelta:
    """A running run that has not reported for this long is taken as dead (its worker was
    killed or lost): settings.ACTIVE_LEARNING_STALE_SECONDS, 15 minutes by default. Training
    reports every batch, scoring every chunk; the slowest silent step is loading a backbone,
    which takes a minute or two."""
    return timedelta(seconds=settings.ACTIVE_LEARNING_STALE_SECONDS)


PROGRESS_EVERY_SECONDS = 1.0  # at most one progress write per second and process
MIN_FRACTION_FOR_ETA = 0.02  # below this, a rate says little
# Share of the run's progress bar each stage covers.
STAGE_SPAN = {
    RunStage.TRAIN: (0.0, 70.0),
    RunStage.SCORE: (70.0, 95.0),
    RunStage.SELECT: (95.0, 100.0),
}
LOG_LIMIT = 100_000  # characters of log kept per run


def log_line(now, message: str) -> str:
    return f"[{now:%Y-%m-%d %H:%M:%S}] {message}\n"


def run_log(run_id: int, message: str) -> None:
    Run.objects.filter(pk=run_id).update(
        log=Concat(F("log"), Value(log_line(timezone.now(), message)), output_field=TextField()),
        updated_at=timezone.now(),
    )


def stage_close(run: Run, now) -> None:
    if run.stage_started_at and run.stage in STAGE_SPAN:
        seconds = dict(run.stage_seconds)
        seconds[run.stage] = round(
            seconds.get(run.stage, 0) + (now - run.stage_started_at).total_seconds(), 3
        )
        run.stage_seconds = seconds


def stage_enter(run_id: int, stage: str, message: str) -> Run:
    now = timezone.now()
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        stage_close(run, now)
        run.stage = stage
        run.stage_started_at = now
        run.heartbeat_at = now
        run.progress_note = message[:200]
        run.percent = max(run.percent, STAGE_SPAN.get(stage, (100.0, 100.0))[0])
        run.eta_seconds = None  # the new stage's rate is not known yet
        run.log = (run.log + log_line(now, message))[-LOG_LIMIT:]
        run.save()
    return run


class StageProgress:
    """Throttled progress writes: percent within the stage's span (never going back, as
    parallel chunk tasks report independently), heartbeat, and the ETA of the current stage
    at its rate so far (later stages' length is not known until they start)."""

    def __init__(self, run: Run, stage: str):
        self.run_id, self.stage = run.pk, stage
        self.stage_started = run.stage_started_at or timezone.now()
        self.last = 0.0

    def __call__(self, fraction: float, force: bool = False, note: str | None = None) -> None:
        now_mono = time.monotonic()
        if not force and now_mono - self.last < PROGRESS_EVERY_SECONDS:
            return
        self.last = now_mono
        fraction = min(max(fraction, 0.0), 1.0)
        low, high = STAGE_SPAN[self.stage]
        percent = round(low + (high - low) * fraction, 1)
        now = timezone.now()
        elapsed = (now - self.stage_started).total_seconds()
        eta = elapsed * (1 - fraction) / fraction if fraction >= MIN_FRACTION_FOR_ETA else None
        extra = {"progress_note": note[:200]} if note is not None else {}
        Run.objects.filter(pk=self.run_id, status=RunStatus.RUNNING).update(
            percent=Greatest(F("percent"), Value(percent)),
            eta_seconds=eta,
            heartbeat_at=now,
            **extra,
        )


def run_fail(run_id: int, error: str, log: str = "") -> None:
    """Mark a run failed (if it is still active) and its unpublished model version failed."""
    now = timezone.now()
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status not in ACTIVE_RUN_STATUSES:
            return
        stage_close(run, now)
        run.status = RunStatus.FAILED
        run.error = error[:5000]
        run.finished_at = now
        run.eta_seconds = None
        run.log = (run.log + log_line(now, f"failed: {error}") + log)[-LOG_LIMIT:]
        run.save()
        if run.model_version_id:
            ModelVersion.objects.filter(
                pk=run.model_version_id, status=ModelStatus.TRAINING
            ).update(
                status=ModelStatus.FAILED,
                log=f"run {run.pk} failed: {error}",
                finished_at=now,
            )


def runs_fail_stale(*, project: Project | None = None) -> list[int]:
    """Fail running runs whose worker has gone silent for longer than stale_after()."""
    cutoff = timezone.now() - stale_after()
    stale = Run.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=cutoff)
    if project is not None:
        stale = stale.filter(project=project)
    failed = []
    for run in stale:
        run_fail(
            run.pk,
            f"no sign of life from its worker since {run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC "
            f"(during {run.get_stage_display().lower()}); the worker was probably killed. "
            "The previous model and generation stay current; retry to start again.",
        )
        failed.append(run.pk)
    return failed


def runs_resume(*, reason: str) -> list[int]:
    """Restart the silence clock of every running run, saying why in its log: for when their
    tasks were just put back in the queue after the workers stopped (the demo's embedded broker
    on start-up), so the watchdog waits for the redelivered tasks instead of failing the runs
    for the time nothing ran. Returns the runs' ids."""
    now = timezone.now()
    ids = list(Run.objects.filter(status=RunStatus.RUNNING).values_list("pk", flat=True))
    Run.objects.filter(pk__in=ids).update(heartbeat_at=now)
    for run_id in ids:
        run_log(run_id, reason)
    return ids


def run_begin(run_id: int) -> Run | None:
    """Move a queued run to running. A run that is already running means its first delivery
    died with its worker (the message came back): fail it rather than run two copies."""
    now = timezone.now()
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            return None
        if run.status == RunStatus.RUNNING:
            redelivered = run.stage
        else:
            redelivered = None
            run.status = RunStatus.RUNNING
            run.started_at = run.heartbeat_at = now
            run.save()
    if redelivered is not None:
        run_fail(
            run_id,
            f"its worker stopped during {RunStage(redelivered).label.lower()} and the task "
            "was delivered again; the previous model and generation stay current. Retry to "
            "start again.",
        )
        return None
    return run


def error_message(exc: BaseException) -> str:
    if isinstance(exc, ApplicationError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def error_trace(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))[-20000:]
