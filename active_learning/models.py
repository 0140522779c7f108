"""The model registry: every trained PRM version, and its scores of candidate solutions."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

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


class Strategy(models.TextChoices):
    CONVINCING_WRONG = "convincing_wrong", "Convincing wrong answers"
    UNIFORM = "uniform", "Uniform random (baseline)"


class WrongAllocation(models.TextChoices):
    BATCH = "batch", "Share of the whole generation"
    PER_PROBLEM = (
        "per_problem",
        "Share of each problem's cap (the paper's; binds only at full caps)",
    )


class TruncatedPolicy(models.TextChoices):
    LAST = "last", "Rank after whole-scored candidates"
    EXCLUDE = "exclude", "Exclude from selection"
    IGNORE = "ignore", "Rank by score like the rest"


class TrainingMode(models.TextChoices):
    AUTO = "auto", "Automatic (LoRA on a GPU worker, head only on CPU)"
    HEAD = "head", "Head only (frozen backbone; minutes on CPU)"
    LORA = "lora", "LoRA adapters"
    FULL = "full", "Full fine-tuning (GPU)"


class Precision(models.TextChoices):
    AUTO = "auto", "Automatic (bf16 autocast on a GPU, fp32 on CPU)"
    BF16 = "bf16", "bf16 autocast over fp32 weights"
    FP32 = "fp32", "fp32"


class LoopSettings(TimestampedModel):
    """How a project's active-learning loop runs: when it retrains, how it trains, and how it
    chooses the next generation. Created with defaults the first time it is needed."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="loop_settings")
    # Start a run after this many new submitted labelings since the last run (0: never).
    retrain_every = models.PositiveIntegerField(default=50)
    batch_size = models.PositiveIntegerField(default=200)
    per_problem_cap = models.PositiveSmallIntegerField(default=4)
    wrong_share = models.FloatField(default=0.8)
    strategy = models.CharField(
        max_length=32, choices=Strategy.choices, default=Strategy.CONVINCING_WRONG
    )
    # How the wrong-answer share is met (see active_learning/selection.py).
    wrong_allocation = models.CharField(
        max_length=16, choices=WrongAllocation.choices, default=WrongAllocation.BATCH
    )
    # Candidates whose PRM score was computed on a truncated input.
    truncated_policy = models.CharField(
        max_length=16, choices=TruncatedPolicy.choices, default=TruncatedPolicy.LAST
    )
    seed = models.IntegerField(default=0)
    training_mode = models.CharField(
        max_length=8, choices=TrainingMode.choices, default=TrainingMode.AUTO
    )
    epochs = models.PositiveSmallIntegerField(default=3)
    # Training options (active_learning.prm.training.TrainConfig; docs/active-learning.md).
    # Empty learning rate: the mode's default (full 2e-5, LoRA 2e-4, head 1e-3).
    learning_rate = models.FloatField(null=True, blank=True)
    train_batch_size = models.PositiveIntegerField(default=8)
    # Tokens per training micro-batch instead of train_batch_size solutions (padding included;
    # length-grouped); empty: train_batch_size. At least max_length (one solution must fit).
    train_token_budget = models.PositiveIntegerField(null=True, blank=True)
    grad_accumulation = models.PositiveSmallIntegerField(default=1)
    max_length = models.PositiveIntegerField(default=1536)
    lora_rank = models.PositiveSmallIntegerField(default=16)
    gradient_checkpointing = models.BooleanField(default=False)
    packing = models.BooleanField(default=True)
    precision = models.CharField(max_length=8, choices=Precision.choices, default=Precision.AUTO)
    # Empty: transformers' default (SDPA); e.g. flash_attention_2 where installed.
    attn_implementation = models.CharField(max_length=32, blank=True)
    # Empty: the PRM_BACKBONE setting. Any Hugging Face id, local folder, or "smollm2".
    backbone = models.CharField(max_length=500, blank=True)
    # Keep only the first N transformer layers of the backbone (faster CPU demo); null: all.
    keep_layers = models.PositiveSmallIntegerField(null=True, blank=True)
    # Solutions per scoring task: the unit that spreads over several GPU workers.
    score_chunk_size = models.PositiveIntegerField(default=256)
    schedule_enabled = models.BooleanField(default=False)
    schedule_minutes = models.PositiveIntegerField(default=24 * 60)

    class Meta:
        verbose_name_plural = "loop settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(wrong_share__gte=0) & Q(wrong_share__lte=1),
                name="loop_wrong_share_share",
            ),
            models.CheckConstraint(condition=Q(batch_size__gte=1), name="loop_batch_positive"),
            models.CheckConstraint(condition=Q(per_problem_cap__gte=1), name="loop_cap_positive"),
            models.CheckConstraint(condition=Q(epochs__gte=1), name="loop_epochs_positive"),
            models.CheckConstraint(
                condition=Q(learning_rate__isnull=True) | Q(learning_rate__gt=0),
                name="loop_learning_rate_positive",
            ),
            models.CheckConstraint(
                condition=Q(train_batch_size__gte=1)
                & Q(grad_accumulation__gte=1)
                & Q(lora_rank__gte=1)
                & Q(max_length__gte=16),
                name="loop_train_sizes_positive",
            ),
            models.CheckConstraint(
                condition=Q(train_token_budget__isnull=True)
                | Q(train_token_budget__gte=F("max_length")),
                name="loop_token_budget_fits_max_length",
            ),
            models.CheckConstraint(
                condition=Q(precision__in=Precision.values), name="loop_precision_valid"
            ),
            models.CheckConstraint(
                condition=Q(score_chunk_size__gte=1), name="loop_chunk_positive"
            ),
            models.CheckConstraint(
                condition=Q(schedule_minutes__gte=1), name="loop_schedule_positive"
            ),
            models.CheckConstraint(
                condition=Q(strategy__in=Strategy.values), name="loop_strategy_valid"
            ),
            models.CheckConstraint(
                condition=Q(training_mode__in=TrainingMode.values), name="loop_mode_valid"
            ),
            models.CheckConstraint(
                condition=Q(wrong_allocation__in=WrongAllocation.values),
                name="loop_wrong_allocation_valid",
            ),
            models.CheckConstraint(
                condition=Q(truncated_policy__in=TruncatedPolicy.values),
                name="loop_truncated_policy_valid",
            ),
        ]

    def __str__(self):
        return f"loop settings of {self.project}"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


ACTIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


class RunStage(models.TextChoices):
    WAITING = "waiting", "Waiting for a worker"
    GENERATE = "generate", "Generating solutions"
    TRAIN = "train", "Training"
    SCORE = "score", "Scoring candidates"
    SELECT = "select", "Selecting and publishing"
    DONE = "done", "Done"


class RunTrigger(models.TextChoices):
    LABELS = "labels", "New labels"
    LEAD = "lead", "Lead"
    SCHEDULE = "schedule", "Schedule"
    API = "api", "API"
    COMMAND = "command", "Command line"
    SIMULATION = "simulation", "Simulation"
    RETRY = "retry", "Retry"


class Run(TimestampedModel):
    """One turn of the loop for a project: train → score → select → publish a generation.

    At most one queued or running run per project (a partial unique index), so two triggers can
    never run in parallel. Only the last stage changes what annotators see: it makes the new
    model version current and creates the new generation in one transaction, so a run that dies
    earlier leaves the previous model and generation current."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=16, choices=RunTrigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    retry_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retries"
    )
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    stage = models.CharField(max_length=16, choices=RunStage.choices, default=RunStage.WAITING)
    percent = models.FloatField(default=0)  # of the whole run (stages have fixed spans)
    eta_seconds = models.FloatField(null=True, blank=True)
    # What the current stage is doing, e.g. "training epoch 2/3" or "scoring 512/1,000".
    progress_note = models.CharField(max_length=200, blank=True)
    # {"training": {...}, "scoring": {...}}: active_learning.prm.throughput.Throughput figures.
    throughput = models.JSONField(default=dict, blank=True)
    # Everything that decides the outcome (settings at trigger time), so a run can be repeated.
    params = models.JSONField(default=dict)
    # Submitted labelings in the project when the run was triggered ("after every N" counts
    # from here).
    labels_at_trigger = models.PositiveIntegerField(default=0)
    # Set when the first task was handed to the broker; a queued run without it is sent again
    # by the watchdog once the broker is back.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    stage_started_at = models.DateTimeField(null=True, blank=True)
    # Last sign of life from the worker; a running run silent for too long is failed.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    stage_seconds = models.JSONField(default=dict, blank=True)  # {stage: seconds}
    chunks_total = models.PositiveIntegerField(default=0)
    candidates = models.PositiveIntegerField(default=0)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    generation = models.ForeignKey(
        "labeling.Generation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_run_per_project",
            ),
            models.CheckConstraint(
                condition=Q(status__in=RunStatus.values), name="run_status_valid"
            ),
            models.CheckConstraint(condition=Q(stage__in=RunStage.values), name="run_stage_valid"),
            models.CheckConstraint(
                condition=Q(percent__gte=0) & Q(percent__lte=100), name="run_percent_range"
            ),
        ]
        indexes = [models.Index(fields=["project", "-id"])]

    def __str__(self):
        return f"run {self.pk} of {self.project} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES

    def mark_succeeded(self, now) -> None:
        """Set the fields of a run that finished and succeeded at `now` (stage DONE, 100
        percent, no note or ETA), unsaved: the caller holds the row's lock, closes the stage's
        clock first and saves."""
        self.status = RunStatus.SUCCEEDED
        self.stage = RunStage.DONE
        self.percent = 100
        self.progress_note = ""
        self.eta_seconds = None
        self.finished_at = now
        self.stage_started_at = None


class RunChunk(models.Model):
    """A slice of the candidates one scoring task scores. The run moves on to selection when
    every chunk is done (a join kept in the database, so no Celery result backend is needed
    and a redelivered chunk is not counted twice)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    solution_ids = models.JSONField()
    done = models.BooleanField(default=False)
    # Deliveries that started scoring it: a chunk whose worker dies is delivered again, but
    # one that kills its worker every time (out of memory) fails the run instead of looping.
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="run_chunk_unique"),
        ]

    def __str__(self):
        return f"chunk {self.index} of run {self.run_id}"
