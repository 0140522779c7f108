"""Background jobs: exports and imports, on one abstract BackgroundJob."""

from django.db import models
from django.db.models import Q

from labeling.models.people import Project, User


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ExportFormat(models.TextChoices):
    PRM800K = "prm800k", "PRM800K JSON Lines"
    TRAINING_JSONL = "training_jsonl", "PRM training (prompt, completions, labels), JSON Lines"
    TRAINING_PARQUET = "training_parquet", "PRM training (prompt, completions, labels), Parquet"
    STEPS_CSV = "steps_csv", "One row per rated step, CSV"
    STEPS_PARQUET = "steps_parquet", "One row per rated step, Parquet"


class BackgroundJob(models.Model):
    """What every background job (an export, an import) records: who asked, its state, its
    progress (`progress` of `total` units: labelings written for an export, records read for an
    import), the error that ended it, and when it was created, started and finished. Abstract:
    each job is its own table (labeling/jobs.py runs them)."""

    created_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-id"]


class ExportJob(BackgroundJob):
    """An export running in the background (a Celery task on the `default` queue)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="export_jobs")
    format = models.CharField(max_length=32, choices=ExportFormat.choices)
    # The labeling filters (the API's query parameters) and format options (e.g. `neutral`).
    filters = models.JSONField(default=dict, blank=True)
    row_count = models.PositiveIntegerField(null=True, blank=True)  # rows in the file, when done
    file = models.CharField(max_length=1000, blank=True)  # path of the finished file

    class Meta(BackgroundJob.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=JobStatus.values), name="export_job_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(format__in=ExportFormat.values), name="export_job_format_valid"
            ),
        ]

    def __str__(self):
        return f"export {self.pk} ({self.format}, {self.status}) of {self.project}"


class ImportKind(models.TextChoices):
    PROBLEMS = "problems", "Problem set (MATH-style JSON Lines or Parquet)"
    SOLUTIONS = "solutions", "Candidate solutions (JSON Lines or ProcessBench JSON)"
    PRM800K = "prm800k", "PRM800K label file (JSON Lines)"


class ImportJob(BackgroundJob):
    """An uploaded file imported in the background, all or nothing."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="import_jobs")
    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    filename = models.CharField(max_length=255)  # as uploaded; errors name it
    file = models.CharField(max_length=1000)  # where the upload is kept
    generation = models.IntegerField(null=True, blank=True)  # solutions: target generation
    summary = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)  # the service's counts
    errors = models.JSONField(default=list, blank=True)  # `FILE:LINE: field: what is wrong`

    class Meta(BackgroundJob.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=JobStatus.values), name="import_job_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=ImportKind.values), name="import_job_kind_valid"
            ),
        ]

    def __str__(self):
        return f"import {self.pk} ({self.kind}, {self.status}) of {self.filename}"
