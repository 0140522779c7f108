"""One whole turn of the loop in this process, without Celery (the simulator, tests, a command
line on a GPU box): the same stages as the Celery tasks (active_learning/tasks.py), one after
the other, in the order of `STAGES`, after the optional generate stage (issue 18:
`active_learning/generator/stage.py` `run_generate`, which ends a generate-only run).

A new stage is a module in `active_learning/loop/stages/` with a function of the run id, one
entry in `STAGES` and its task in `active_learning/tasks.py` (which chains the same order over
the queues).
"""

from active_learning.loop.runs import error_message, error_trace, run_begin, run_fail
from active_learning.loop.stages import publish, score, train
from active_learning.loop.triggers import run_create
from active_learning.models import Run, RunTrigger
from labeling.errors import Conflict
from labeling.models import Project


def _score_all(run_id: int) -> None:
    """The scoring stage in one process: plan the chunks, score each (on Celery, one task per
    chunk)."""
    for chunk in score.run_plan_chunks(run_id):
        score.run_score_chunk(run_id, chunk.pk)


# A run's stages after `run_begin`, in order: each takes the run id. Looked up through their
# modules at call time (so a test can replace one).
STAGES = (
    ("train", lambda run_id: train.run_train(run_id)),
    ("score", _score_all),
    ("publish", lambda run_id: publish.run_publish(run_id)),
)


def run_round(
    project: Project,
    *,
    trigger: str = RunTrigger.SIMULATION,
    user=None,
    **params,
) -> Run:
    """Run one whole turn of the loop in this process, without Celery (the simulator, tests,
    a command line on a GPU box): the same stages as the Celery chain, one after the other.
    `params` override the project's loop settings for this run (see `params.PARAM_FIELDS`;
    `train` is a dict of TrainConfig overrides). Returns the succeeded run; on failure the run
    is marked failed with its log and the exception is raised again."""
    run = run_create(project=project, trigger=trigger, user=user, params=params, in_process=True)
    try:
        if run_begin(run.pk) is None:
            raise Conflict(f"Run {run.pk} could not start.")
        from active_learning.generator.stage import run_generate  # worker side (torch)

        if run_generate(run.pk):  # generate-only, a cold start, or stopped while generating
            run.refresh_from_db()
            return run
        for _name, stage in STAGES:
            stage(run.pk)
    except BaseException as exc:
        run_fail(run.pk, error_message(exc), error_trace(exc))
        raise
    run.refresh_from_db()
    return run
