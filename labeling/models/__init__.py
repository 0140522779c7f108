"""The annotation domain: who labels what, and what they said.

A *labeling* is one labeler's pass over one *solution* (a candidate answer to a *problem*), as in
PRM800K. Its per-step content is kept in the PRM800K `label.steps` layout (`Labeling.steps`), and
every rated completion is also a row of `StepRating`, where the database enforces the rating domain
and which the statistics and training queries read.
"""

# The models live in modules by sub-domain; every name is importable from labeling.models.
from labeling.models.base import TimestampedModel
from labeling.models.disagreement import Adjudication, DisagreementItem, DisagreementReason
from labeling.models.jobs import (
    BackgroundJob,
    ExportFormat,
    ExportJob,
    ImportJob,
    ImportKind,
    JobStatus,
)
from labeling.models.labels import (
    FinishReason,
    GoldLabel,
    HintArm,
    Labeling,
    LabelingStatus,
    StepRating,
)
from labeling.models.people import ApiToken, Membership, Project, Role, ScreeningStatus, User
from labeling.models.phase1 import AlternativesStatus, NextStepAlternatives
from labeling.models.pool import Generation, GenerationItem, Grading, Problem, Solution

__all__ = [
    "Adjudication",
    "AlternativesStatus",
    "ApiToken",
    "BackgroundJob",
    "DisagreementItem",
    "DisagreementReason",
    "ExportFormat",
    "ExportJob",
    "FinishReason",
    "Generation",
    "GenerationItem",
    "GoldLabel",
    "Grading",
    "HintArm",
    "ImportJob",
    "ImportKind",
    "JobStatus",
    "Labeling",
    "LabelingStatus",
    "Membership",
    "NextStepAlternatives",
    "Problem",
    "Project",
    "Role",
    "ScreeningStatus",
    "Solution",
    "StepRating",
    "TimestampedModel",
    "User",
]
