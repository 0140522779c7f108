"""What is labeled: problems, candidate solutions (with their grading) and generations
(the batches queued for labeling)."""

from django.db import models
from django.db.models import Q

from labeling.models.base import TimestampedModel
from labeling.models.people import Project


class Problem(TimestampedModel):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="problems")
    text = models.TextField()
    # sha256 of `text`: problems are matched by exact text, and an index on a hash is cheap.
    text_hash = models.CharField(max_length=64)
    reference_solution = models.TextField(blank=True)
    # null: the source gave none (such a problem never counts a solution as a wrong answer).
    reference_answer = models.TextField(null=True, blank=True)
    subject = models.CharField(max_length=100, blank=True)
    level = models.PositiveSmallIntegerField(null=True, blank=True)
    external_id = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "text_hash"], name="problem_text_unique"),
        ]
        indexes = [
            # solution imports refer to problems by external id (MATH's unique_id)
            models.Index(fields=["project", "external_id"], name="problem_external_id"),
        ]

    def __str__(self):
        return self.text[:80]


class Grading(models.TextChoices):
    """Where a solution's grade stands (active_learning/grading.py). Only `pending` solutions are
    graded; the others were looked at once and are left alone until a regrade."""

    PENDING = "pending", "Waiting to be graded"
    GRADED = "graded", "Graded against the reference answer"
    GIVEN = "given", "Correctness given by the source"
    NO_REFERENCE = "no_reference", "No reference answer to grade against"
    NO_ANSWER = "no_answer", "No final answer"
    FAILED = "failed", "The grader failed or timed out"


class Solution(TimestampedModel):
    """A candidate solution to a problem: ordered steps and a final answer."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="solutions")
    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="solutions")
    steps = models.JSONField()  # list of step strings, the last may end with "# Answer\n\n<answer>"
    # sha256 over the steps: one solution per (problem, steps), so labelings of the same
    # pre-generated solution attach to one row and can be compared.
    steps_hash = models.CharField(max_length=64)
    final_answer = models.TextField(null=True, blank=True)
    generator = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=200, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    # What the source said beside the steps (e.g. ProcessBench's expert first-error `label`).
    metadata = models.JSONField(default=dict, blank=True)
    # Graded correctness of `final_answer` against the problem's reference answer; null = ungraded.
    is_correct = models.BooleanField(null=True, blank=True)
    graded_at = models.DateTimeField(null=True, blank=True)
    grading = models.CharField(max_length=16, choices=Grading.choices, default=Grading.PENDING)
    prm_score = models.FloatField(null=True, blank=True)  # latest model version's score

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["problem", "steps_hash"], name="solution_steps_unique"),
            models.CheckConstraint(
                condition=Q(grading__in=Grading.values), name="solution_grading_valid"
            ),
        ]
        indexes = [
            # the grader and the watchdog look for pending solutions only: a small index
            models.Index(
                fields=["project", "id"],
                condition=Q(grading="pending"),
                name="solution_grading_pending",
            ),
        ]

    def __str__(self):
        return f"solution {self.pk} to problem {self.problem_id}"


class Generation(TimestampedModel):
    """A batch of solutions queued for labeling; numbered per project, -1 is the screening set."""

    SCREENING = -1

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="generations")
    number = models.IntegerField()
    strategy = models.CharField(max_length=50, blank=True)  # e.g. imported, uniform
    params = models.JSONField(default=dict, blank=True)  # what chose it, to reproduce it
    solutions = models.ManyToManyField(Solution, through="GenerationItem", related_name="+")

    class Meta:
        ordering = ["project", "number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="generation_unique"),
            models.CheckConstraint(condition=Q(number__gte=-1), name="generation_number_valid"),
        ]

    def __str__(self):
        return f"{self.project} generation {self.number}"


class GenerationItem(models.Model):
    """A solution served in a generation, in selection order (`rank`: lower is served first)."""

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="items")
    solution = models.ForeignKey(
        Solution, on_delete=models.CASCADE, related_name="generation_items"
    )
    rank = models.PositiveIntegerField()
    score = models.FloatField(null=True, blank=True)  # the selecting model's score, if any
    # Submitted labelings of the solution in this generation, and whether it still wants more
    # (submitted < the project's overlap). Kept up to date by the queue services so that the
    # next-task query walks a small partial index instead of counting labelings.
    submitted_count = models.PositiveIntegerField(default=0)
    is_open = models.BooleanField(default=True)
    # Labelings this item wants in its generation, when not the project's overlap: a
    # disagreement-queue item (docs/model-assisted.md) wants one more labeling of a solution
    # already labeled in an earlier generation. Null: the project's overlap.
    wanted = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["generation", "solution"], name="generation_item_unique"
            ),
            models.CheckConstraint(
                condition=Q(wanted__isnull=True) | Q(wanted__gte=1),
                name="generation_item_wanted_positive",
            ),
        ]
        indexes = [
            models.Index(fields=["generation", "rank"]),
            models.Index(
                fields=["generation", "rank", "solution"],
                condition=Q(is_open=True),
                name="generation_item_open",
            ),
        ]

    def __str__(self):
        return f"#{self.rank} of {self.generation}: solution {self.solution_id}"
