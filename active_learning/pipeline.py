"""One turn of the active-learning loop (a `Run`): train a PRM version on every usable label,
score every unlabeled candidate with it, select the next generation and publish it.

The stages are plain functions on a run id, so the same code runs in two ways:

- on Celery (`active_learning.tasks`): `run_start` trains on the `gpu` queue and splits the
  candidates into chunks, one `run_score_chunk` task per chunk (a group that spreads over every
  GPU worker), and the task that finishes the last chunk sends `run_publish`. The join is kept in
  the database (`RunChunk.done`), so no result backend is needed and a redelivered chunk is not
  counted twice;
- in process, without a broker: `run_round`, which the simulator and the tests call.

Safety: only `run_publish` changes what annotators see. In one transaction it makes the new
model version current, creates the generation and copies the scores; a run that dies earlier
leaves the previous model and generation current. One queued or running run per project is a
partial unique index (`one_active_run_per_project`); a second trigger is refused with a message
that names the active run. A running run that stops sending heartbeats is failed by the
watchdog (`runs_watchdog`, on beat every minute, and before every trigger), and a task that is
delivered again after its worker died fails the run instead of running a second copy; a retry
is a new run with the same parameters.
"""

import contextlib
import logging
import time
import traceback
from dataclasses import fields
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, TextField, Value
from django.db.models.functions import Concat, Greatest
from django.utils import timezone

from active_learning import selection
from active_learning.models import (
    ACTIVE_RUN_STATUSES,
    LoopSettings,
    ModelStatus,
    ModelVersion,
    Run,
    RunChunk,
    RunStage,
    RunStatus,
    RunTrigger,
    SolutionScore,
    Strategy,
    TrainingMode,
)
from labeling.errors import ApplicationError, Conflict
from labeling.models import (
    Generation,
    GenerationItem,
    GoldLabel,
    Labeling,
    LabelingStatus,
    Project,
    Solution,
)

logger = logging.getLogger(__name__)


def stale_after() -> timedelta:
    """A running run that has not reported for this long is taken as dead (its worker was
    killed or lost): settings.ACTIVE_LEARNING_STALE_SECONDS, 15 minutes by default. Training
    reports every batch, scoring every chunk; the slowest silent step is loading a backbone,
    which takes a minute or two."""
    return timedelta(seconds=settings.ACTIVE_LEARNING_STALE_SECONDS)


# A queued run whose dispatch failed (broker down) is sent again by the watchdog after this.
REDISPATCH_AFTER = timedelta(seconds=30)
PROGRESS_EVERY_SECONDS = 1.0  # at most one progress write per second and process
MIN_FRACTION_FOR_ETA = 0.02  # below this, a rate says little
SCORE_PROGRESS_SLICE = 32  # solutions scored between two progress reports
MAX_CHUNK_ATTEMPTS = 3  # deliveries of one scoring chunk before the run is failed
# Share of the run's progress bar each stage covers.
STAGE_SPAN = {
    RunStage.TRAIN: (0.0, 70.0),
    RunStage.SCORE: (70.0, 95.0),
    RunStage.SELECT: (95.0, 100.0),
}
LOG_LIMIT = 100_000  # characters of log kept per run

PARAM_FIELDS = (
    "batch_size",
    "per_problem_cap",
    "wrong_share",
    "strategy",
    "seed",
    "training_mode",
    "epochs",
    "backbone",
    "keep_layers",
    "score_chunk_size",
)
# Extra TrainConfig fields a caller (simulation, command line) may set for a run.
TRAIN_OVERRIDES = ("learning_rate", "head_learning_rate", "batch_size", "max_length", "patience")


class RunRefused(Conflict):
    """A trigger that cannot start a run now (another run of the project is active)."""


# -- settings and parameters ------------------------------------------------------------------


def loop_settings_get(project: Project) -> LoopSettings:
    settings_row, _ = LoopSettings.objects.get_or_create(project=project)
    return settings_row


def run_params(project: Project, overrides: dict | None = None) -> dict:
    """The project's loop settings with `overrides` applied and checked: everything that decides
    a run's outcome, recorded on the run and on the generation it publishes."""
    loop = loop_settings_get(project)
    params = {name: getattr(loop, name) for name in PARAM_FIELDS}
    overrides = dict(overrides or {})
    train = overrides.pop("train", {}) or {}
    unknown = sorted(set(overrides) - set(PARAM_FIELDS))
    if unknown:
        raise ApplicationError(
            f"Unknown run parameter(s): {', '.join(unknown)} (known: {', '.join(PARAM_FIELDS)})"
        )
    params.update(overrides)
    params["backbone"] = params["backbone"] or settings.PRM_BACKBONE
    bad_train = sorted(set(train) - set(TRAIN_OVERRIDES))
    if bad_train:
        raise ApplicationError(
            f"Unknown training parameter(s): {', '.join(bad_train)} "
            f"(known: {', '.join(TRAIN_OVERRIDES)})"
        )
    params["train"] = dict(train)
    _check_params(params)
    return params


def _check_params(params: dict) -> None:
    errors = []
    if params["strategy"] not in Strategy.values:
        errors.append(f"strategy: must be one of {', '.join(Strategy.values)}")
    if params["training_mode"] not in TrainingMode.values:
        errors.append(f"training_mode: must be one of {', '.join(TrainingMode.values)}")
    for name in ("batch_size", "per_problem_cap", "epochs", "score_chunk_size"):
        value = params[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append(f"{name}: must be a whole number of at least 1")
    share = params["wrong_share"]
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
        errors.append("wrong_share: must be a number from 0 to 1")
    if isinstance(params["seed"], bool) or not isinstance(params["seed"], int):
        errors.append("seed: must be a whole number")
    keep = params["keep_layers"]
    if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 1):
        errors.append("keep_layers: must be empty or a whole number of at least 1")
    if errors:
        raise ApplicationError("Invalid run parameters.", details=errors)


def submitted_labelings(project: Project) -> int:
    """Submitted labelings that count as new labels (not quality-control or screening)."""
    return Labeling.objects.filter(
        project=project,
        status=LabelingStatus.SUBMITTED,
        is_quality_control=False,
        is_screening=False,
    ).count()


# -- creating, dispatching and failing runs ---------------------------------------------------


def active_run(project: Project) -> Run | None:
    return Run.objects.filter(project=project, status__in=ACTIVE_RUN_STATUSES).first()


def run_create(
    *,
    project: Project,
    trigger: str,
    user=None,
    params: dict | None = None,
    retry_of: Run | None = None,
    in_process: bool = False,
) -> Run:
    """A queued run, or RunRefused when the project has an active one. Runs that died silently
    are failed first, so a dead run never blocks the project."""
    runs_fail_stale(project=project)
    resolved = run_params(project, params)
    now = timezone.now()
    try:
        with transaction.atomic():
            run = Run.objects.create(
                project=project,
                trigger=trigger,
                requested_by=user if getattr(user, "is_authenticated", False) else None,
                retry_of=retry_of,
                params=resolved,
                labels_at_trigger=submitted_labelings(project),
                # In-process runs are never handed to a broker (the watchdog must not send them).
                dispatched_at=now if in_process else None,
                log=_line(now, f"queued ({RunTrigger(trigger).label.lower()} trigger)"),
            )
    except IntegrityError:
        active = active_run(project)
        if active is None:  # it finished in between: try once more
            return run_create(
                project=project,
                trigger=trigger,
                user=user,
                params=params,
                retry_of=retry_of,
                in_process=in_process,
            )
        raise RunRefused(
            f"Run {active.pk} of {project.name!r} is {active.status} "
            f"({active.get_stage_display().lower()}); one run at a time per project, so no "
            "second run was started. Try again when it has finished."
        ) from None
    return run


def run_trigger(
    *,
    project: Project,
    trigger: str,
    user=None,
    params: dict | None = None,
    retry_of: Run | None = None,
) -> Run:
    """Create a run and hand it to the workers once the transaction commits. When the broker is
    down the run stays queued (and says so in its log); the watchdog sends it when the broker is
    back. It is never lost and never run inline in the web process."""
    run = run_create(project=project, trigger=trigger, user=user, params=params, retry_of=retry_of)
    transaction.on_commit(lambda: run_dispatch(run.pk))
    return run


def run_retry(*, run: Run, user=None) -> Run:
    """A failed run again, as a new run with the same parameters."""
    if run.status != RunStatus.FAILED:
        raise Conflict(f"Run {run.pk} is {run.status}; only a failed run can be retried.")
    params = {k: v for k, v in run.params.items() if k in PARAM_FIELDS}
    params["train"] = run.params.get("train", {})
    return run_trigger(
        project=run.project, trigger=RunTrigger.RETRY, user=user, params=params, retry_of=run
    )


def run_dispatch(run_id: int) -> bool:
    """Send a queued run's first task. The claim on `dispatched_at` makes sure at most one
    message per run is in flight; a failed send releases it again."""
    from active_learning.tasks import run_start

    now = timezone.now()
    claimed = Run.objects.filter(
        pk=run_id, status=RunStatus.QUEUED, dispatched_at__isnull=True
    ).update(dispatched_at=now)
    if not claimed:
        return False
    try:
        run_start.apply_async((run_id,), retry=False)
    except Exception as exc:  # the broker is down: keep the run queued, send it later
        Run.objects.filter(pk=run_id).update(dispatched_at=None)
        _log(
            run_id,
            f"could not reach the broker ({type(exc).__name__}); background jobs are "
            "paused, and the run will be sent when the broker is back",
        )
        logger.warning("run %s: broker unavailable, left queued: %s", run_id, exc)
        return False
    _log(run_id, "sent to the workers")
    return True


def run_cancel(*, run: Run, user=None) -> Run:
    """Cancel a queued run (one a worker has not started)."""
    who = getattr(user, "username", None) or "a lead"
    updated = Run.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.FAILED,
        error=f"cancelled by {who} before it started",
        finished_at=timezone.now(),
    )
    if not updated:
        raise Conflict(
            f"Run {run.pk} is {Run.objects.get(pk=run.pk).status}; only a queued "
            "run can be cancelled."
        )
    _log(run.pk, f"cancelled by {who}")
    run.refresh_from_db()
    return run


def run_fail(run_id: int, error: str, log: str = "") -> None:
    """Mark a run failed (if it is still active) and its unpublished model version failed."""
    now = timezone.now()
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status not in ACTIVE_RUN_STATUSES:
            return
        _close_stage(run, now)
        run.status = RunStatus.FAILED
        run.error = error[:5000]
        run.finished_at = now
        run.eta_seconds = None
        run.log = (run.log + _line(now, f"failed: {error}") + log)[-LOG_LIMIT:]
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


def runs_dispatch_pending() -> list[int]:
    """Send queued runs whose dispatch failed (the broker was down)."""
    cutoff = timezone.now() - REDISPATCH_AFTER
    pending = Run.objects.filter(
        status=RunStatus.QUEUED, dispatched_at__isnull=True, created_at__lt=cutoff
    ).values_list("pk", flat=True)
    return [pk for pk in pending if run_dispatch(pk)]


# Labels still wanted before the label trigger needs a real check, per project (an estimate
# in the cache, counted down by submits). Counting the project's labelings takes 100+ ms at
# 100k labelings (the QC/screening filter defeats the index), too much for every submit; the
# estimate never runs ahead of the truth for submits, and the watchdog's full check every
# minute covers labels that arrive otherwise (imports). It expires so setting changes apply.
LABELS_REMAINING_TTL = 300


def _labels_remaining_key(project_id: int) -> str:
    return f"loop-labels-remaining:{project_id}"


def labels_maybe_trigger(project_id: int, *, after_submit: bool = False) -> Run | None:
    """Start a run when `retrain_every` new labelings have come in since the last run. After a
    submit (`after_submit`), the cached countdown answers "not yet" without a query. Never
    raises (a submit must not depend on the loop, the cache or the broker)."""
    if after_submit:
        try:
            remaining = cache.decr(_labels_remaining_key(project_id))
        except Exception:  # no estimate (or the cache is down): check for real
            remaining = None
        if remaining is not None and remaining > 0:
            return None
    try:
        return _labels_check(project_id)
    except RunRefused:
        return None
    except Exception:
        logger.exception("project %s: could not check the retrain trigger", project_id)
        return None


def _labels_remaining_set(project_id: int, remaining: int) -> None:
    with contextlib.suppress(Exception):
        cache.set(_labels_remaining_key(project_id), remaining, LABELS_REMAINING_TTL)


def _labels_check(project_id: int) -> Run | None:
    loop = LoopSettings.objects.filter(project_id=project_id).first()
    every = loop.retrain_every if loop else LoopSettings._meta.get_field("retrain_every").default
    if not every:
        _labels_remaining_set(project_id, 10**9)  # off: until the estimate expires
        return None
    project = Project.objects.get(pk=project_id)
    if Run.objects.filter(project=project, status__in=ACTIVE_RUN_STATUSES).exists():
        # the next run counts from when it was triggered: check again after a few labels
        _labels_remaining_set(project_id, min(every, 10))
        return None
    last = Run.objects.filter(project=project).order_by("-id").first()
    since = last.labels_at_trigger if last else 0
    new_labels = submitted_labelings(project) - since
    if new_labels < every:
        _labels_remaining_set(project_id, every - new_labels)
        return None
    run = run_trigger(project=project, trigger=RunTrigger.LABELS)
    _labels_remaining_set(project_id, every)
    return run


def runs_schedule_due() -> list[int]:
    """Start scheduled runs: projects with the schedule on, no active run, the interval passed
    since their last run, and new labels since then."""
    started = []
    now = timezone.now()
    for loop in LoopSettings.objects.filter(schedule_enabled=True).select_related("project"):
        project = loop.project
        last = Run.objects.filter(project=project).order_by("-id").first()
        if last is not None and (
            last.is_active or last.created_at > now - timedelta(minutes=loop.schedule_minutes)
        ):
            continue
        if submitted_labelings(project) <= (last.labels_at_trigger if last else 0):
            continue  # nothing new to learn from
        with contextlib.suppress(RunRefused):  # a trigger got there first
            started.append(run_trigger(project=project, trigger=RunTrigger.SCHEDULE).pk)
    return started


def runs_watchdog() -> dict:
    """The periodic upkeep (beat, every minute): fail dead runs, send runs the broker missed,
    start scheduled runs, and catch label triggers a submit could not start."""
    stale = runs_fail_stale()
    sent = runs_dispatch_pending()
    scheduled = runs_schedule_due()
    for project_id in LoopSettings.objects.filter(retrain_every__gt=0).values_list(
        "project_id", flat=True
    ):
        labels_maybe_trigger(project_id)
    return {
        "failed_stale": stale,
        "dispatched": sent,
        "scheduled": scheduled,
        "grading": grading_catch_up(),
    }


GRADING_PENDING_SECONDS = 15 * 60  # one grading task per project in flight at a time


def grading_catch_up() -> list[int]:
    """Queue grading for projects with gradable, ungraded solutions (new imports): imports
    are graded within a minute whichever way they came in."""
    from django.core.cache import cache

    from active_learning.grading import grading_enqueue, ungraded

    queued = []
    for project in Project.objects.all():
        if not ungraded(project).exists():
            continue
        if cache.add(f"grading-pending:{project.pk}", 1, timeout=GRADING_PENDING_SECONDS):
            if grading_enqueue(project.pk):
                queued.append(project.pk)
            else:
                cache.delete(f"grading-pending:{project.pk}")
    return queued


# -- progress and log ---------------------------------------------------------------------------


def _line(now, message: str) -> str:
    return f"[{now:%Y-%m-%d %H:%M:%S}] {message}\n"


def _log(run_id: int, message: str) -> None:
    Run.objects.filter(pk=run_id).update(
        log=Concat(F("log"), Value(_line(timezone.now(), message)), output_field=TextField()),
        updated_at=timezone.now(),
    )


def _close_stage(run: Run, now) -> None:
    if run.stage_started_at and run.stage in STAGE_SPAN:
        seconds = dict(run.stage_seconds)
        seconds[run.stage] = round(
            seconds.get(run.stage, 0) + (now - run.stage_started_at).total_seconds(), 3
        )
        run.stage_seconds = seconds


def _enter_stage(run_id: int, stage: str, message: str) -> Run:
    now = timezone.now()
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        _close_stage(run, now)
        run.stage = stage
        run.stage_started_at = now
        run.heartbeat_at = now
        run.percent = max(run.percent, STAGE_SPAN.get(stage, (100.0, 100.0))[0])
        run.eta_seconds = None  # the new stage's rate is not known yet
        run.log = (run.log + _line(now, message))[-LOG_LIMIT:]
        run.save()
    return run


class _Progress:
    """Throttled progress writes: percent within the stage's span (never going back, as
    parallel chunk tasks report independently), heartbeat, and the ETA of the current stage
    at its rate so far (later stages' length is not known until they start)."""

    def __init__(self, run: Run, stage: str):
        self.run_id, self.stage = run.pk, stage
        self.stage_started = run.stage_started_at or timezone.now()
        self.last = 0.0

    def __call__(self, fraction: float, force: bool = False) -> None:
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
        Run.objects.filter(pk=self.run_id, status=RunStatus.RUNNING).update(
            percent=Greatest(F("percent"), Value(percent)), eta_seconds=eta, heartbeat_at=now
        )


def _train_progress(progress: _Progress, mode: str):
    def report(p) -> None:
        fraction = p.step / p.total_steps if p.total_steps else 0.0
        if mode == "head":  # features (one pass of the frozen backbone), then the head
            fraction = fraction / 2 if p.phase == "features" else 0.5 + fraction / 2
        progress(fraction)

    return report


# -- the stages ---------------------------------------------------------------------------------


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


def candidate_ids(project: Project) -> list[int]:
    """Solutions that may go into the next generation: not labeled (no submitted or draft
    labeling), not gold, not in the screening set. Solutions of the current generation that
    nobody has labeled yet are candidates again: the new model re-scores them."""
    labeled = Labeling.objects.filter(
        project=project, status__in=[LabelingStatus.SUBMITTED, LabelingStatus.DRAFT]
    ).values("solution_id")
    gold = GoldLabel.objects.filter(solution__project=project).values("solution_id")
    screening = GenerationItem.objects.filter(
        generation__project=project, generation__number=Generation.SCREENING
    ).values("solution_id")
    return list(
        Solution.objects.filter(project=project)
        .exclude(pk__in=labeled)
        .exclude(pk__in=gold)
        .exclude(pk__in=screening)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def run_train(run_id: int) -> ModelVersion:
    """Train the run's model version (published ready, not current) and link it to the run."""
    from active_learning.prm.training import TrainConfig
    from active_learning.services import model_train

    run = _enter_stage(run_id, RunStage.TRAIN, "training a new PRM version")
    params = run.params
    project = run.project
    version = ModelVersion.objects.create(
        project=project,
        backbone=params["backbone"],
        parent=ModelVersion.objects.filter(project=project, is_current=True).first(),
    )
    Run.objects.filter(pk=run_id).update(model_version=version)
    train_fields = {f.name for f in fields(TrainConfig)}
    config = TrainConfig(
        mode=params["training_mode"],
        epochs=params["epochs"],
        seed=params["seed"],
        **{k: v for k, v in params.get("train", {}).items() if k in train_fields},
    )
    progress = _Progress(run, RunStage.TRAIN)
    version = model_train(
        project=project,
        backbone=params["backbone"],
        config=config,
        keep_layers=params["keep_layers"],
        progress=_train_progress(progress, config.mode),
        version=version,
        make_current=False,
    )
    _log(
        run_id,
        f"trained model version {version.pk} on {version.data_snapshot.get('examples')} "
        f"labelings (held-out step ROC AUC: {version.metrics.get('held_out_step_roc_auc')})",
    )
    return version


def run_plan_chunks(run_id: int) -> list[RunChunk]:
    """Split the candidates into scoring chunks (none for the uniform strategy, which does not
    use scores)."""
    run = _enter_stage(run_id, RunStage.SCORE, "listing candidates to score")
    ids = candidate_ids(run.project)
    size = run.params["score_chunk_size"]
    chunks = []
    if run.params["strategy"] != Strategy.UNIFORM:
        chunks = [
            RunChunk(run=run, index=i, solution_ids=ids[start : start + size])
            for i, start in enumerate(range(0, len(ids), size))
        ]
    with transaction.atomic():
        RunChunk.objects.filter(run=run).delete()
        RunChunk.objects.bulk_create(chunks)
        Run.objects.filter(pk=run_id).update(candidates=len(ids), chunks_total=len(chunks))
    _log(
        run_id,
        f"{len(ids)} candidates; "
        + (
            f"{len(chunks)} scoring chunk(s) of up to {size}"
            if chunks or run.params["strategy"] != Strategy.UNIFORM
            else "the uniform strategy does not score them"
        ),
    )
    return list(RunChunk.objects.filter(run=run).order_by("index"))


def run_score_chunk(run_id: int, chunk_id: int) -> bool:
    """Score one chunk with the run's version (safe to run twice). True when this call found
    every chunk of the run done, so the caller moves the run on to selection."""
    from active_learning.services import solutions_score

    run = Run.objects.select_related("model_version").get(pk=run_id)
    if run.status != RunStatus.RUNNING:
        return False
    chunk = RunChunk.objects.get(pk=chunk_id, run=run)
    progress = _Progress(run, RunStage.SCORE)
    total = max(run.chunks_total, 1)
    if not chunk.done:
        RunChunk.objects.filter(pk=chunk.pk).update(attempts=F("attempts") + 1)
        if chunk.attempts + 1 > MAX_CHUNK_ATTEMPTS:
            raise ApplicationError(
                f"scoring chunk {chunk.index} was started {MAX_CHUNK_ATTEMPTS} times and its "
                "worker died each time (out of memory?); lower 'Solutions per scoring task'"
            )
        ids = list(chunk.solution_ids)
        # in slices, so progress and the heartbeat move while a large chunk scores
        for start in range(0, len(ids), SCORE_PROGRESS_SLICE):
            solutions_score(
                version=run.model_version, solution_ids=ids[start : start + SCORE_PROGRESS_SLICE]
            )
            done = RunChunk.objects.filter(run=run, done=True).count()
            progress((done + (start + SCORE_PROGRESS_SLICE) / len(ids)) / total)
        RunChunk.objects.filter(pk=chunk.pk).update(done=True)
    done = RunChunk.objects.filter(run=run, done=True).count()
    progress(done / total, force=True)
    return done >= run.chunks_total


def run_publish(run_id: int) -> Run | None:
    """Select the next generation and publish it with the run's model version, atomically."""
    run = Run.objects.filter(pk=run_id).first()
    if run is None or run.status != RunStatus.RUNNING or run.generation_id:
        return None
    _enter_stage(run_id, RunStage.SELECT, "selecting the next generation")
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        if run.status != RunStatus.RUNNING:
            return None  # published by a duplicate delivery, or failed meanwhile
        project, params, version = run.project, run.params, run.model_version
        ids = candidate_ids(project)  # again: labels may have arrived while it trained
        scores = dict(
            SolutionScore.objects.filter(model_version=version, solution_id__in=ids).values_list(
                "solution_id", "score"
            )
        )
        rows = Solution.objects.filter(pk__in=ids).values_list("pk", "problem_id", "is_correct")
        candidates = [
            selection.Candidate(pk, problem_id, scores.get(pk), is_correct)
            for pk, problem_id, is_correct in rows
        ]
        chosen = selection.select(
            candidates,
            batch_size=params["batch_size"],
            per_problem_cap=params["per_problem_cap"],
            wrong_share=params["wrong_share"],
            strategy=params["strategy"],
            seed=params["seed"],
        )
        ModelVersion.objects.filter(project=project, is_current=True).exclude(pk=version.pk).update(
            is_current=False
        )
        ModelVersion.objects.filter(pk=version.pk).update(is_current=True)
        _copy_scores(version, project)
        generation = None
        if chosen:
            generation = _generation_publish(run, version, chosen, len(candidates))
        now = timezone.now()
        _close_stage(run, now)
        run.stage_started_at = None
        run.status = RunStatus.SUCCEEDED
        run.stage = RunStage.DONE
        run.percent = 100
        run.eta_seconds = None
        run.finished_at = now
        run.heartbeat_at = now
        run.generation = generation
        message = (
            f"published generation {generation.number} ({len(chosen)} solutions, "
            f"{sum(c.is_correct is False for c in chosen)} with a wrong answer) and made model "
            f"version {version.pk} current"
            if generation
            else f"no unlabeled candidates left: model version {version.pk} is current, the "
            "current generation stays"
        )
        run.log = (run.log + _line(now, message))[-LOG_LIMIT:]
        run.save()
    return run


def _copy_scores(version: ModelVersion, project: Project) -> None:
    """Solution.prm_score = the new current version's score, where it scored the solution."""
    from django.db.models import OuterRef, Subquery

    latest = SolutionScore.objects.filter(model_version=version, solution=OuterRef("pk"))
    Solution.objects.filter(project=project, prm_scores__model_version=version).update(
        prm_score=Subquery(latest.values("score")[:1])
    )


def _generation_publish(run: Run, version: ModelVersion, chosen, candidates: int) -> Generation:
    last = (
        Generation.objects.filter(project=run.project, number__gte=0)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    params = {k: run.params[k] for k in ("batch_size", "per_problem_cap", "wrong_share", "seed")}
    generation = Generation.objects.create(
        project=run.project,
        number=0 if last is None else last + 1,
        strategy=run.params["strategy"],
        params={
            **params,
            "strategy": run.params["strategy"],
            "model_version": version.pk,
            "run": run.pk,
            "candidates": candidates,
            "selected": len(chosen),
        },
    )
    GenerationItem.objects.bulk_create(
        GenerationItem(generation=generation, solution_id=c.solution_id, rank=rank, score=c.score)
        for rank, c in enumerate(chosen)
    )
    return generation


# -- in process -----------------------------------------------------------------------------------


def run_round(
    project: Project,
    *,
    trigger: str = RunTrigger.SIMULATION,
    user=None,
    **params,
) -> Run:
    """Run one whole turn of the loop in this process, without Celery (the simulator, tests,
    a command line on a GPU box): the same stages as the Celery chain, one after the other.
    `params` override the project's loop settings for this run (see PARAM_FIELDS; `train` is a
    dict of TrainConfig overrides). Returns the succeeded run; on failure the run is marked
    failed with its log and the exception is raised again."""
    run = run_create(project=project, trigger=trigger, user=user, params=params, in_process=True)
    try:
        if run_begin(run.pk) is None:
            raise Conflict(f"Run {run.pk} could not start.")
        run_train(run.pk)
        chunks = run_plan_chunks(run.pk)
        for chunk in chunks:
            run_score_chunk(run.pk, chunk.pk)
        run_publish(run.pk)
    except BaseException as exc:
        run_fail(run.pk, _error(exc), _trace(exc))
        raise
    run.refresh_from_db()
    return run


def _error(exc: BaseException) -> str:
    if isinstance(exc, ApplicationError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _trace(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))[-20000:]
