"""Model-assisted labeling (issue 19): what a PRM hint says, and which tasks get none.

A hint is the step the current PRM thinks is the first error and its probability, computed
from the stored per-step scores of that model version (`SolutionScore.step_scores`: per step
1 - P(negative), active_learning/prm/scoring.py). The first error is the first step whose
score falls below `HINT_THRESHOLD`, the rule of `predicted_first_error` in
active_learning/prm/evaluation.py (PRM800K / "Let's Verify Step by Step" §2.6: a solution's
first negative step); labeling may not import the loop, so the three lines are repeated here.

Which tasks are served without a hint (the control arm that measures whether hints bias the
annotators) is chosen per task at assignment by `hint_arm`: a sha256 of (project, annotator,
solution) mapped to [0, 1) and compared with the project's unhinted share, so the choice is
recorded, reproducible and independent of the order tasks are served in.

No Django here (an import-linter contract): plain values in, plain values out.
"""

import hashlib
from collections.abc import Sequence

# A step counts as the PRM's first error when its score (1 - P(negative)) is below this,
# i.e. when the model thinks the step is more likely wrong than not.
HINT_THRESHOLD = 0.5

HINTED = "hinted"
UNHINTED = "unhinted"
NO_ERROR = -1  # the hint's step when the PRM sees no error in the solution


def first_error_hint(
    step_scores: Sequence[float], threshold: float = HINT_THRESHOLD
) -> tuple[int, float | None]:
    """`(step, probability)`: the 0-based index of the first step whose score is below
    `threshold` and the PRM's probability that it is wrong (1 - score), or `(NO_ERROR, None)`
    when no step is below it (also for an empty list). `step_scores` are per-step
    1 - P(negative) in [0, 1]; a value outside raises ValueError naming its index."""
    for i, value in enumerate(step_scores):
        if value is None or not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"step_scores[{i}] = {value!r} is not a probability in [0, 1]")
    for i, value in enumerate(step_scores):
        if float(value) < threshold:
            return i, 1.0 - float(value)
    return NO_ERROR, None


def arm_draw(project_id: int, user_id: int, solution_id: int) -> float:
    """A number in [0, 1) fixed by the task: the first 8 bytes of sha256("project:user:
    solution") over 2**64."""
    digest = hashlib.sha256(f"{project_id}:{user_id}:{solution_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def hint_arm(*, project_id: int, user_id: int, solution_id: int, unhinted_share: float) -> str:
    """`UNHINTED` for a share `unhinted_share` (in [0, 1]) of tasks, `HINTED` for the rest."""
    if not 0.0 <= unhinted_share <= 1.0:
        raise ValueError(f"unhinted_share = {unhinted_share!r} is not a share in [0, 1]")
    draw = arm_draw(project_id, user_id, solution_id)
    return UNHINTED if draw < unhinted_share else HINTED
