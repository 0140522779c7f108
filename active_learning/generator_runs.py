"""Starting and stopping generator runs (issue 18): the edges' entry points (command, API, lead
page). A generator run is a `Run` whose params ask for the generate stage only
(active_learning/generator/stage.py); it is queued, dispatched, watched and retried like every
run by the loop (active_learning/loop/). Web-safe: nothing here imports torch."""

from django.db.models import F, TextField, Value
from django.db.models.functions import Concat
from django.utils import timezone

from active_learning.loop.triggers import run_cancel, run_trigger
from active_learning.models import Run, RunStage, RunStatus, RunTrigger
from labeling.errors import Conflict
from labeling.models import Project


def generation_run_start(
    *,
    project: Project,
    options: dict,
    problem_ids: list[int] | None = None,
    trigger: str = RunTrigger.LEAD,
    user=None,
) -> Run:
    """Queue a generator run (generate only) for `project`: a Run on the gpu queue, sent when
    the transaction commits. ApplicationError for bad options, RunRefused (a Conflict) when the
    project has an active run."""
    generate = {"options": options, "only": True, "problem_ids": problem_ids}
    return run_trigger(project=project, trigger=trigger, user=user, params={"generate": generate})


def generation_stop(*, run: Run, user=None) -> Run:
    """Stop a generator run: a queued one is cancelled, a running one ends after the batch in
    flight (what it stored stays). Conflict for a run that is not active or whose generation
    is over (it is training or scoring: those stages cannot be stopped half-way)."""
    if run.status == RunStatus.QUEUED:
        return run_cancel(run=run, user=user)
    who = getattr(user, "username", None) or "a lead"
    updated = Run.objects.filter(
        pk=run.pk, status=RunStatus.RUNNING, stage=RunStage.GENERATE
    ).update(
        status=RunStatus.FAILED,
        error=f"stopped by {who} while generating; the solutions stored so far stay",
        finished_at=timezone.now(),
        eta_seconds=None,
    )
    if not updated:
        run.refresh_from_db()
        raise Conflict(
            f"Run {run.pk} is {run.status} ({run.get_stage_display().lower()}); only a queued "
            "run or one that is generating can be stopped."
        )
    _log(run.pk, f"stopped by {who}")
    run.refresh_from_db()
    return run


def _log(run_id: int, message: str) -> None:
    line = f"[{timezone.now():%Y-%m-%d %H:%M:%S}] {message}\n"
    Run.objects.filter(pk=run_id).update(
        log=Concat(F("log"), Value(line), output_field=TextField()), updated_at=timezone.now()
    )
