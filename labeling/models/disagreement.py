"""The disagreement queue (issue 19, docs/model-assisted.md): labeled solutions queued for one
more labeling after a run, because people and the new PRM (or people among themselves)
disagree about the first error."""

from django.db import models
from django.db.models import Q

from labeling.models.base import TimestampedModel
from labeling.models.people import Project
from labeling.models.pool import Generation, Solution


class DisagreementReason(models.TextChoices):
    """labeling/disagreement_rules.py defines each."""

    PRM_CONFIDENT_ERROR = "prm_confident_error", "Annotator found no error; the PRM is confident"
    FIRST_ERROR_FAR = "first_error_far", "Annotator's and PRM's first errors are far apart"
    ANNOTATORS_DISAGREE = "annotators_disagree", "Annotators name different first errors"


class DisagreementItem(TimestampedModel):
    """A solution queued in `generation` (as a GenerationItem wanting one more labeling) for
    `reason`, decided with the model version `model_version` (the loop's ModelVersion id; an
    id, not a foreign key, since labeling never imports the loop)."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="disagreement_items"
    )
    generation = models.ForeignKey(
        Generation, on_delete=models.CASCADE, related_name="disagreement_items"
    )
    solution = models.ForeignKey(
        Solution, on_delete=models.CASCADE, related_name="disagreement_items"
    )
    model_version = models.PositiveIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=32, choices=DisagreementReason.choices)
    strength = models.FloatField()
    # what the rule saw: human first errors, the PRM's first error and largest P(error)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["generation", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["generation", "solution"], name="disagreement_item_unique"
            ),
            models.CheckConstraint(
                condition=Q(reason__in=DisagreementReason.values),
                name="disagreement_reason_valid",
            ),
        ]

    def __str__(self):
        return f"solution {self.solution_id} queued in {self.generation} ({self.reason})"


class Adjudication(TimestampedModel):
    """A lead's ruling on a solution's first error (docs/model-assisted.md): the 0-based step
    of the first error, or -1 for none. Training uses it instead of the solution's labelings
    (active_learning/services/training.py); the PRM800K export carries it in the extension
    field `adjudication` (docs/formats.md). The labelings themselves are never changed."""

    NO_ERROR = -1

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="adjudications")
    solution = models.OneToOneField(Solution, on_delete=models.CASCADE, related_name="adjudication")
    first_error = models.SmallIntegerField()
    adjudicated_by = models.ForeignKey(
        "labeling.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(first_error__gte=-1), name="adjudication_first_error_valid"
            ),
        ]

    def __str__(self):
        return f"adjudication of solution {self.solution_id}: {self.first_error}"
