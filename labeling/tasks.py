"""Celery tasks of the labeling app: take ids, load rows, call one service."""

from pathlib import Path

from celery import shared_task

from labeling.models import Project
from labeling.services.prm800k_export import prm800k_export


@shared_task(soft_time_limit=3600, time_limit=3700)
def prm800k_export_to_file(project_id: int, path: str, generation: int | None = None) -> int:
    """Export a project's labelings to `path` (written to a temporary name, then renamed, so a
    reader never sees half a file)."""
    project = Project.objects.get(pk=project_id)
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    with open(partial, "w", encoding="ascii", newline="") as out:
        count = prm800k_export(project=project, out=out, generation=generation)
    partial.replace(target)
    return count


@shared_task(soft_time_limit=300, time_limit=330)
def project_stats_refresh(project_id: int, flt: dict | None = None) -> None:
    """Recompute a project's statistics (default filters, or `flt` as StatsFilter.as_params)
    so the dashboard answers from a warm cache."""
    from labeling.project_stats import StatsFilter, project_statistics

    project = Project.objects.get(pk=project_id)
    project_statistics(project, StatsFilter.from_params(flt or {}), fresh=True)


# The background export and import jobs (registered with Celery by this import).
from labeling.jobs import export_job_run, import_job_run  # noqa: E402, F401


@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3660)
def solutions_grade_task(project_id: int, regrade: bool = False) -> dict:
    """Grade a project's candidate solutions against the reference answers (math-verify). Runs
    in the prefork child's main thread, where math-verify's signal-based timeouts work; the hard
    time limit is the backstop. Safe to run twice (graded solutions are skipped)."""
    from django.core.cache import cache

    from active_learning.grading import solutions_grade

    try:
        return solutions_grade(project=Project.objects.get(pk=project_id), regrade=regrade)
    finally:  # the watchdog may queue grading for this project again
        cache.delete(f"grading-pending:{project_id}")
