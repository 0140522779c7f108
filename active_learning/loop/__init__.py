"""The active-learning loop: one turn of it is a `Run`, which trains a PRM version on every
usable label, scores every unlabeled candidate with it, selects the next generation and
publishes it.

The web side and the worker side are separate modules, and the web side never imports the
worker side (an import-linter contract in pyproject.toml):

- web (views, API, the labels hook, beat's watchdog): `triggers` (start, retry, cancel, the
  every-N-labelings trigger), `watchdog` (the periodic upkeep), `params` (a run's parameters
  and their checks), `candidates` (labels counted, the candidate pool), `runs` (a run's log,
  stage, progress and failure);
- workers: `stages/` (`train`, `score`, `publish`: plain functions of a run id), chained over
  the queues by the Celery tasks in `active_learning/tasks.py`, or in process by
  `in_process.run_round` (the simulator, tests); `warm` (the feature-cache warm-up ahead of a
  head-mode project's first run).

The stages run in two ways:

- on Celery (`active_learning.tasks`): `run_start` trains on the `gpu` queue and splits the
  candidates into chunks, one `run_score_chunk` task per chunk (a group that spreads over every
  GPU worker), and the task that finishes the last chunk sends `run_publish`. The join is kept in
  the database (`RunChunk.done`), so no result backend is needed and a redelivered chunk is not
  counted twice;
- in process, without a broker: `in_process.run_round`, which the simulator and the tests call.

Safety: only `run_publish` changes what annotators see. In one transaction it makes the new
model version current, creates the generation and copies the scores; a run that dies earlier
leaves the previous model and generation current. One queued or running run per project is a
partial unique index (`one_active_run_per_project`); a second trigger is refused with a message
that names the active run. A running run that stops sending heartbeats is failed by the
watchdog (`runs_watchdog`, on beat every minute, and before every trigger), and a task that is
delivered again after its worker died fails the run instead of running a second copy; a retry
is a new run with the same parameters.
"""
