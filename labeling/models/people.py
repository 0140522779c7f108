"""Who: users and their roles, projects, memberships (with screening state) and API tokens."""

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from labeling.models.base import TimestampedModel


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


class Project(TimestampedModel):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    # What annotators read before and while labeling (shown on the task page).
    guidelines = models.TextField(blank=True)
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
    # PRM800K phase 1 (docs/phase1.md): new generations serve problems alone; at each step the
    # annotator rates `phase1_alternatives` proposed next steps and continues along one of
    # them or their own.
    phase1_mode = models.BooleanField(default=False)
    phase1_alternatives = models.PositiveSmallIntegerField(default=5)
    # Model-assisted labeling (docs/model-assisted.md): show the current PRM's first-error
    # guess as a hint on a task (never a pre-filled rating), except on a share of tasks chosen
    # at assignment (`hints_unhinted_share`), which are served without one to measure bias.
    hints_enabled = models.BooleanField(default=False)
    hints_unhinted_share = models.FloatField(default=0.2)
    # The disagreement queue (docs/model-assisted.md, labeling/disagreement_rules.py): after a
    # run publishes, up to `disagreement_budget` labeled solutions (0: off) where people and
    # the new PRM disagree (an error at least `disagreement_confidence` likely where a person
    # saw none, or first errors more than `disagreement_k` steps apart), or people disagree
    # among themselves, are queued in the new generation for one more labeling.
    disagreement_budget = models.PositiveIntegerField(default=0)
    disagreement_k = models.PositiveSmallIntegerField(default=2)
    disagreement_confidence = models.FloatField(default=0.9)

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
            models.CheckConstraint(
                condition=Q(phase1_alternatives__gte=1) & Q(phase1_alternatives__lte=16),
                name="project_phase1_alternatives_range",
            ),
            models.CheckConstraint(
                condition=Q(hints_unhinted_share__gte=0) & Q(hints_unhinted_share__lte=1),
                name="project_hints_unhinted_share",
            ),
            models.CheckConstraint(
                condition=Q(disagreement_confidence__gt=0) & Q(disagreement_confidence__lte=1),
                name="project_disagreement_confidence_share",
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
