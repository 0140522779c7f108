"""The model registry: every trained PRM version, and its scores of candidate solutions."""

from django.db import models
from django.db.models import Q

from labeling.models import Project, Solution, TimestampedModel


class ModelStatus(models.TextChoices):
    TRAINING = "training", "Training"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class ModelVersion(TimestampedModel):
    """A trained PRM. Its number is global (the id), so commands can name it alone."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    status = models.CharField(
        max_length=16, choices=ModelStatus.choices, default=ModelStatus.TRAINING
    )
    # The version new scores and selections use; at most one per project, switched atomically.
    is_current = models.BooleanField(default=False)
    backbone = models.CharField(max_length=500)
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children"
    )
    checkpoint = models.CharField(max_length=1000, blank=True)  # folder, once published
    settings = models.JSONField(default=dict, blank=True)
    # What it was trained on: fingerprint, label counts, examples, labelings.
    data_snapshot = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"], condition=Q(is_current=True), name="one_current_model"
            ),
            models.CheckConstraint(
                condition=~Q(is_current=True) | Q(status="ready"), name="current_model_is_ready"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ModelStatus.values), name="model_status_valid"
            ),
        ]

    def __str__(self):
        return f"PRM v{self.pk} ({self.status}) of {self.project}"


class SolutionScore(models.Model):
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="scores")
    solution = models.ForeignKey(Solution, on_delete=models.CASCADE, related_name="prm_scores")
    score = models.FloatField(null=True, blank=True)
    step_scores = models.JSONField(default=list)
    truncated = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "solution"], name="solution_score_unique"
            ),
        ]

    def __str__(self):
        return f"v{self.model_version_id} scores solution {self.solution_id}: {self.score}"
