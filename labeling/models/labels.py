"""What annotators said: labelings (PRM800K `label.steps`), their step ratings and gold labels."""

from django.db import models
from django.db.models import Q

from labeling.models.base import TimestampedModel
from labeling.models.people import Project, User
from labeling.models.pool import Generation, Solution


class FinishReason(models.TextChoices):
    FOUND_ERROR = "found_error", "Found an error"
    SOLUTION = "solution", "Reached a correct solution"
    GIVE_UP = "give_up", "Gave up"
    BAD_PROBLEM = "bad_problem", "Bad problem"


class HintArm(models.TextChoices):
    """Whether a task was served with the PRM's hint (labeling/hint_rules.py), chosen at
    assignment; blank: hints were off for the project, or the task is a screening question."""

    NONE = "", "No hints"
    HINTED = "hinted", "Served with a hint"
    UNHINTED = "unhinted", "Served without a hint (the control share)"


class LabelingStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    ABANDONED = "abandoned", "Abandoned"


class Labeling(TimestampedModel):
    """One labeler's pass over one solution."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="labelings")
    solution = models.ForeignKey(Solution, on_delete=models.CASCADE, related_name="labelings")
    labeler = models.ForeignKey(User, on_delete=models.PROTECT, related_name="labelings")
    generation = models.ForeignKey(
        Generation, on_delete=models.PROTECT, null=True, blank=True, related_name="labelings"
    )
    status = models.CharField(
        max_length=16, choices=LabelingStatus.choices, default=LabelingStatus.DRAFT
    )
    finish_reason = models.CharField(
        max_length=16, choices=FinishReason.choices, null=True, blank=True
    )
    reason = models.TextField(blank=True)  # the labeler's words for give_up / bad_problem
    # A draft's hold on its slot; renewed while the annotator is active. Past it, the slot
    # returns to the queue.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Quality-control and screening labelings, scored against the solution's gold labeling:
    # share of equal ratings on the steps both rated, and whether the first Negative matches.
    gold_agreement = models.FloatField(null=True, blank=True)
    gold_first_error_match = models.BooleanField(null=True, blank=True)
    total_time_ms = models.BigIntegerField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    is_quality_control = models.BooleanField(default=False)
    is_screening = models.BooleanField(default=False)
    # PRM800K `label.steps`: per position the completions ({text, rating, flagged}), the human
    # completion and the chosen completion. The single source of truth for what was said.
    steps = models.JSONField(default=list)
    # Counts the draft saves that changed `steps`: a save names the revision it was based on and
    # is refused (409) when another tab or device saved since, so no acknowledged rating is
    # overwritten unseen (docs/annotators.md, "Two tabs").
    draft_revision = models.PositiveIntegerField(default=0)
    # The selecting verifier's score when this solution was served (PRM800K
    # `question.pre_generated_verifier_score`).
    verifier_score = models.FloatField(null=True, blank=True)
    # Which `question` keys an imported record carried (phase-1 records carry only two);
    # null means the full layout that labelings made here export with.
    question_keys = models.JSONField(null=True, blank=True)
    # Model-assisted labeling (docs/model-assisted.md). `hint_arm` is chosen at assignment.
    # When the task first opens with a stored scoring of the solution by the project's current
    # PRM, that version's id (active_learning ModelVersion; an id, not a foreign key, since
    # labeling never imports the loop), its first-error step (-1: none) and probability are
    # recorded, for both arms: the hinted arm is shown them, the unhinted arm is not (its
    # record is what it would have been shown, for the bias statistics). Never changed after.
    hint_arm = models.CharField(max_length=8, choices=HintArm.choices, blank=True, default="")
    hint_model_version = models.PositiveIntegerField(null=True, blank=True)
    hint_first_error = models.SmallIntegerField(null=True, blank=True)
    hint_probability = models.FloatField(null=True, blank=True)
    # Imported records: sha256 of the source line, so importing a file twice stores nothing new.
    source_hash = models.CharField(max_length=64, null=True, blank=True)
    # The source line itself, kept only when re-serialising the stored fields would not reproduce
    # it byte for byte (an unusual layout); export then writes this line unchanged.
    source_line = models.TextField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(finish_reason__isnull=True) | Q(finish_reason__in=FinishReason.values),
                name="labeling_finish_reason_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=LabelingStatus.values), name="labeling_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=LabelingStatus.SUBMITTED)
                | (Q(finish_reason__isnull=False) & Q(submitted_at__isnull=False)),
                name="labeling_submitted_is_finished",
            ),
            models.CheckConstraint(
                condition=Q(total_time_ms__isnull=True) | Q(total_time_ms__gte=0),
                name="labeling_total_time_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(hint_arm__in=HintArm.values), name="labeling_hint_arm_valid"
            ),
            models.UniqueConstraint(
                fields=["project", "source_hash"],
                condition=Q(source_hash__isnull=False),
                name="labeling_source_unique",
            ),
            # One task in progress per annotator and solution.
            models.UniqueConstraint(
                fields=["labeler", "solution"],
                condition=Q(status="draft"),
                name="labeling_one_draft_per_solution",
            ),
            # An annotator never labels the same solution twice in this platform (imported
            # history, quality-control and screening repeats aside).
            models.UniqueConstraint(
                fields=["labeler", "solution"],
                condition=Q(status__in=["draft", "submitted"])
                & Q(source_hash__isnull=True)
                & Q(is_quality_control=False)
                & Q(is_screening=False),
                name="labeling_once_per_labeler_and_solution",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "status", "id"]),
            models.Index(fields=["solution", "status"]),
            # The live drafts that hold a solution's slots (counted by every next-task claim):
            # a partial index of the few rows in progress, whatever the statistics say.
            models.Index(
                fields=["solution", "lease_expires_at"],
                condition=Q(status="draft", is_quality_control=False, is_screening=False),
                name="labeling_slot_drafts",
            ),
            models.Index(fields=["labeler", "status"]),
            models.Index(fields=["labeler", "solution"]),
        ]

    def __str__(self):
        return f"labeling {self.pk} of solution {self.solution_id} by {self.labeler_id}"


class GoldLabel(TimestampedModel):
    """The reference labeling of a quality-control or screening solution."""

    solution = models.OneToOneField(Solution, on_delete=models.CASCADE, related_name="gold")
    labeling = models.ForeignKey(Labeling, on_delete=models.PROTECT, related_name="+")
    marked_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self):
        return f"gold for solution {self.solution_id}"


class StepRating(models.Model):
    """One rated completion of one step position of a labeling (derived from `Labeling.steps`).

    `completion_index` is the completion's position at that step, or -1 for the human completion.
    """

    HUMAN = -1

    labeling = models.ForeignKey(Labeling, on_delete=models.CASCADE, related_name="ratings")
    step_index = models.PositiveSmallIntegerField()
    completion_index = models.SmallIntegerField()
    rating = models.SmallIntegerField(null=True, blank=True)
    flagged = models.BooleanField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["labeling", "step_index", "completion_index"], name="step_rating_unique"
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__in=[-1, 0, 1]),
                name="step_rating_domain",
            ),
            models.CheckConstraint(
                condition=Q(completion_index__gte=-1), name="step_rating_completion_index_valid"
            ),
        ]

    def __str__(self):
        return f"labeling {self.labeling_id} step {self.step_index}.{self.completion_index}"
