"""The annotation domain: who labels what, and what they said.

A *labeling* is one labeler's pass over one *solution* (a candidate answer to a *problem*), as in
PRM800K. Its per-step content is kept in the PRM800K `label.steps` layout (`Labeling.steps`), and
every rated completion is also a row of `StepRating`, where the database enforces the rating domain
and which the statistics and training queries read.
"""

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    ANNOTATOR = "annotator", "Annotator"
    LEAD = "lead", "Project lead"
    RESEARCHER = "researcher", "Researcher"


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    # The identity exported as PRM800K's `labeler`: stable per person and not their login name.
    labeler_uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(role__in=Role.values), name="user_role_valid"),
        ]


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Project(TimestampedModel):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(User, through="Membership", related_name="projects")
    # How many labelings each solution should get.
    overlap = models.PositiveSmallIntegerField(default=1)
    lease_minutes = models.PositiveIntegerField(default=30)
    # Share of served tasks that are quality-control (gold) questions.
    qc_rate = models.FloatField(default=0.10)
    # Step agreement with gold needed to pass screening (PRM800K used 75%).
    screening_pass_mark = models.FloatField(default=0.75)
    # Pause an annotator whose quality-control step agreement falls below this (null: off),
    # once they have done at least `qc_pause_min_questions` gold questions.
    qc_pause_threshold = models.FloatField(null=True, blank=True)
    qc_pause_min_questions = models.PositiveSmallIntegerField(default=5)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="project_overlap_positive"),
            models.CheckConstraint(
                condition=Q(qc_rate__gte=0) & Q(qc_rate__lte=1), name="project_qc_rate_share"
            ),
            models.CheckConstraint(
                condition=Q(screening_pass_mark__gte=0) & Q(screening_pass_mark__lte=1),
                name="project_pass_mark_share",
            ),
            models.CheckConstraint(
                condition=Q(lease_minutes__gte=1), name="project_lease_minutes_positive"
            ),
            models.CheckConstraint(
                condition=Q(qc_pause_threshold__isnull=True)
                | (Q(qc_pause_threshold__gte=0) & Q(qc_pause_threshold__lte=1)),
                name="project_qc_pause_share",
            ),
        ]

    def __str__(self):
        return self.name


class ScreeningStatus(models.TextChoices):
    PENDING = "pending", "Not finished"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


class Membership(TimestampedModel):
    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    user = models.ForeignKey(User, on_delete=models.CASCADE)
    screening_status = models.CharField(
        max_length=16, choices=ScreeningStatus.choices, default=ScreeningStatus.PENDING
    )
    screening_score = models.FloatField(null=True, blank=True)  # step agreement with gold
    # Set when quality control falls below the project's pause threshold; a lead can clear it.
    paused = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique"),
        ]

    def __str__(self):
        return f"{self.user} in {self.project}"


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

    def __str__(self):
        return self.text[:80]


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
    prm_score = models.FloatField(null=True, blank=True)  # latest model version's score

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["problem", "steps_hash"], name="solution_steps_unique"),
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

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["generation", "solution"], name="generation_item_unique"
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


class FinishReason(models.TextChoices):
    FOUND_ERROR = "found_error", "Found an error"
    SOLUTION = "solution", "Reached a correct solution"
    GIVE_UP = "give_up", "Gave up"
    BAD_PROBLEM = "bad_problem", "Bad problem"


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
    # The selecting verifier's score when this solution was served (PRM800K
    # `question.pre_generated_verifier_score`).
    verifier_score = models.FloatField(null=True, blank=True)
    # Which `question` keys an imported record carried (phase-1 records carry only two);
    # null means the full layout that labelings made here export with.
    question_keys = models.JSONField(null=True, blank=True)
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


# --- researcher surface: API tokens and background export / import jobs ----------------------


class ApiToken(models.Model):
    """A named API token of a user, for scripts (`Authorization: Token <key>`). Only a hash of
    the key is stored: the key is shown once, when the token is created."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)  # the key's first characters, to tell tokens apart
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"token {self.name!r} of {self.user}"


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


class ExportJob(models.Model):
    """An export running in the background (a Celery task on the `default` queue)."""

    created_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="export_jobs")
    format = models.CharField(max_length=32, choices=ExportFormat.choices)
    # The labeling filters (the API's query parameters) and format options (e.g. `neutral`).
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveIntegerField(default=0)  # labelings written so far
    total = models.PositiveIntegerField(null=True, blank=True)  # labelings matching the filters
    row_count = models.PositiveIntegerField(null=True, blank=True)  # rows in the file, when done
    file = models.CharField(max_length=1000, blank=True)  # path of the finished file
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
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


class ImportJob(models.Model):
    """An uploaded file imported in the background, all or nothing."""

    created_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="import_jobs")
    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    filename = models.CharField(max_length=255)  # as uploaded; errors name it
    file = models.CharField(max_length=1000)  # where the upload is kept
    generation = models.IntegerField(null=True, blank=True)  # solutions: target generation
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveIntegerField(default=0)  # records read so far
    total = models.PositiveIntegerField(null=True, blank=True)  # records in the file
    summary = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)  # the service's counts
    error = models.TextField(blank=True)
    errors = models.JSONField(default=list, blank=True)  # `FILE:LINE: field: what is wrong`
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
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
