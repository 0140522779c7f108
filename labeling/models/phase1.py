"""PRM800K phase 1: the alternative next steps proposed at a point of a solution.

In phase 1 (Lightman et al. 2023, section 2.3 and appendix) the labeler sees, at each step,
several model-proposed next steps, rates each, and continues along one of them or writes their
own. `NextStepAlternatives` holds the proposals for one point: a problem and the steps written
so far (the prefix). They are data here, not a model call: imported from PRM800K phase-1
records (which carry them), or filled ahead of time or on request by a generator that
subscribes to `labeling.hooks.next_steps_wanted`. Once ready, a row never changes, so the
alternatives an annotator saw and rated stay the ones their labeling records.
"""

from django.db import models
from django.db.models import Q

from labeling.models.base import TimestampedModel
from labeling.models.people import Project
from labeling.models.pool import Problem


class AlternativesStatus(models.TextChoices):
    READY = "ready", "Ready"
    PENDING = "pending", "Requested from the generator"
    FAILED = "failed", "The generator failed"


class NextStepAlternatives(TimestampedModel):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    problem = models.ForeignKey(
        Problem, on_delete=models.CASCADE, related_name="next_step_alternatives"
    )
    # sha256 of `json.dumps(prefix)`: one row per (problem, prefix).
    prefix_hash = models.CharField(max_length=64)
    prefix = models.JSONField()  # the step texts before this point
    texts = models.JSONField(default=list)  # the proposed next steps, in display order
    status = models.CharField(
        max_length=16, choices=AlternativesStatus.choices, default=AlternativesStatus.READY
    )
    # Where the alternatives came from, shown to annotators ("PRM800K phase-1 record",
    # "generator <model>", ...).
    source = models.CharField(max_length=200, blank=True)
    requested = models.PositiveSmallIntegerField(default=0)  # K asked of the generator
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["problem", "prefix_hash"], name="next_step_alternatives_unique"
            ),
            models.CheckConstraint(
                condition=Q(status__in=AlternativesStatus.values),
                name="next_step_alternatives_status_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["project", "id"],
                condition=Q(status="pending"),
                name="next_step_alternatives_pending",
            )
        ]

    def __str__(self):
        return f"{len(self.texts)} alternatives after step {len(self.prefix)} of {self.problem_id}"
