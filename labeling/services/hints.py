"""Model-assisted labeling (issue 19, docs/model-assisted.md): the PRM's first-error hint.

- At assignment (`task_hint_arm`, called where a draft is made: labeling/services/leases.py
  `new_draft` and labeling/services/claims.py): with hints on, a task is put in the hinted or
  the unhinted arm (labeling/hint_rules.py `hint_arm`, the project's `hints_unhinted_share`);
  screening questions and projects with hints off get no arm.
- When the task opens (`assignment_hint_record`, from the task page and the assignment API):
  the first time, the current PRM's stored scoring of the solution is read through
  `labeling.hooks.step_scores_reader` (the loop provides it; labeling never imports the loop)
  and its version, first-error step and probability are written on the labeling, for both
  arms. They never change after, so a reload shows the same hint and the statistics know what
  was (or would have been) shown.
- `labeling.selectors.hint_view`: what the page and the API show: the hint for the hinted
  arm only, never a rating (the annotator still rates every step).
"""

from django.db import transaction

from labeling import hint_rules, hooks
from labeling.models import HintArm, Labeling, LabelingStatus, Project


def task_hint_arm(*, project: Project, user_id: int, solution_id: int, screening: bool) -> str:
    """The `Labeling.hint_arm` of a new task: blank with hints off or for a screening
    question, else `hinted` / `unhinted` by hint_rules.hint_arm."""
    if not project.hints_enabled or screening:
        return HintArm.NONE
    return hint_rules.hint_arm(
        project_id=project.pk,
        user_id=user_id,
        solution_id=solution_id,
        unhinted_share=project.hints_unhinted_share,
    )


def assignment_hint_record(*, labeling: Labeling) -> Labeling:
    """Record, once, the hint of a task in progress that has an arm: the current model
    version's id, first-error step (-1: no error) and probability. Does nothing when the
    project has hints off, the task has no arm, is not a draft, already has its hint, is a
    phase-1 task (no steps), or the current model has no stored scoring of the solution (or
    one of only its first steps, a truncated input, with no error among them). One
    conditional UPDATE (only a row with no hint yet), so two tabs opening the task at once
    record one hint. Returns `labeling` with the recorded fields set. ValueError when the
    stored scores are not probabilities (a broken scoring is a loud error, not a wrong hint)."""
    project = labeling.project
    if (
        not project.hints_enabled
        or labeling.hint_arm == HintArm.NONE
        or labeling.status != LabelingStatus.DRAFT
        or labeling.hint_model_version is not None
        # a phase-1 task (no pre-generated steps) shows no hint, so none is recorded: the
        # statistics count a recorded hint of the hinted arm as one that was shown
        or not labeling.solution.steps
    ):
        return labeling
    scored = hooks.step_scores_reader(project.pk, labeling.solution_id)
    if scored is None:
        return labeling
    model_version_id, step_scores = scored
    step, probability = hint_rules.first_error_hint(step_scores)
    if step == hint_rules.NO_ERROR and len(step_scores) < len(labeling.solution.steps):
        # a truncated scoring (its kept steps only) that finds no error has not seen the
        # rest: "no error in this solution" would be a claim the model never made
        return labeling
    with transaction.atomic():
        Labeling.objects.filter(
            pk=labeling.pk, status=LabelingStatus.DRAFT, hint_model_version__isnull=True
        ).update(
            hint_model_version=model_version_id,
            hint_first_error=step,
            hint_probability=probability,
        )
    fresh = Labeling.objects.values(
        "hint_model_version", "hint_first_error", "hint_probability"
    ).get(pk=labeling.pk)
    for name, value in fresh.items():
        setattr(labeling, name, value)
    return labeling
