"""Celery tasks of the labeling app: take ids, load rows, call one service."""

# Tasks that live next to their service, registered with Celery by these imports: the
# background export and import jobs, and the statistics refresh. (The grading tasks are the
# loop's: active_learning/grading.py.)
from labeling.jobs import export_job_run, import_job_run  # noqa: F401
from labeling.project_stats import project_stats_refresh  # noqa: F401
