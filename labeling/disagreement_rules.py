"""The disagreement queue's rule (issue 19, docs/model-assisted.md): which labeled solutions
get one more labeling after a run publishes a new PRM.

A solution is a candidate for one (or more) of these reasons, checked on its submitted
labelings' first errors (0-based step of the first Negative; -1: none found) and the new
model's stored step scores (1 - P(negative) per step):

- `prm_confident_error`: an annotator found no error while the PRM gives some step a
  probability of error (1 - score) of at least `confidence`. Strength: that probability.
- `first_error_far`: an annotator's first error and the PRM's (the first step with score
  below 0.5, labeling/hint_rules.py) are both steps and lie more than `k` steps apart.
  Strength: the largest distance over steps in the solution.
- `annotators_disagree`: two labelings of the solution name different first errors.
  Strength: 1 - the share of labelings that agree with the most common first error.

A solution with several reasons is listed once, under the first in REASONS order. Candidates
are ordered by reason (that order), then strength (largest first), then solution id, and the
first `budget` are queued. No Django here (an import-linter contract).
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from labeling.hint_rules import NO_ERROR, first_error_hint

PRM_CONFIDENT_ERROR = "prm_confident_error"
FIRST_ERROR_FAR = "first_error_far"
ANNOTATORS_DISAGREE = "annotators_disagree"
REASONS = (PRM_CONFIDENT_ERROR, FIRST_ERROR_FAR, ANNOTATORS_DISAGREE)
# 1 - score in floating point can fall a hair under a threshold it equals (1 - 0.9 =
# 0.09999999999999998): P(error) within this of `confidence` counts as at it.
FLOAT_SLACK = 1e-9


@dataclass(frozen=True)
class Labeled:
    """A labeled solution: its id, step count, its labelings' first errors (-1: none), and
    the new model's step scores (None: the model did not score it)."""

    solution_id: int
    steps: int
    human_first_errors: Sequence[int]
    step_scores: Sequence[float] | None = None


@dataclass(frozen=True)
class Pick:
    solution_id: int
    reason: str
    strength: float
    detail: dict = field(default_factory=dict)


def reasons_for(item: Labeled, *, k: int, confidence: float) -> list[Pick]:
    """Every reason `item` is a candidate for (REASONS order), each with its strength and a
    `detail` dict (the human first errors, the PRM's first error and probability)."""
    picks = []
    humans = list(item.human_first_errors)
    detail: dict = {"human_first_errors": humans}
    if item.step_scores:
        prm_step, _ = first_error_hint(item.step_scores)
        worst = max(1.0 - float(s) for s in item.step_scores)
        detail.update(prm_first_error=prm_step, prm_max_error_probability=round(worst, 6))
        if NO_ERROR in humans and worst >= confidence - FLOAT_SLACK:
            picks.append(Pick(item.solution_id, PRM_CONFIDENT_ERROR, worst, detail))
        if prm_step != NO_ERROR:
            far = [abs(h - prm_step) for h in humans if h != NO_ERROR]
            if far and max(far) > k:
                picks.append(
                    Pick(item.solution_id, FIRST_ERROR_FAR, max(far) / max(item.steps, 1), detail)
                )
    if len(set(humans)) > 1:
        agree = Counter(humans).most_common(1)[0][1] / len(humans)
        picks.append(Pick(item.solution_id, ANNOTATORS_DISAGREE, 1.0 - agree, detail))
    return picks


def pick(items: Iterable[Labeled], *, k: int, confidence: float, budget: int) -> list[Pick]:
    """The solutions to queue, at most `budget`, in the order of the module docstring.
    ValueError for k < 0, a confidence outside (0, 1] or a negative budget."""
    if k < 0 or not 0.0 < confidence <= 1.0 or budget < 0:
        raise ValueError(
            f"disagreement rule needs k >= 0, 0 < confidence <= 1, budget >= 0; got k={k}, "
            f"confidence={confidence}, budget={budget}"
        )
    firsts = []
    for item in items:
        found = reasons_for(item, k=k, confidence=confidence)
        if found:
            firsts.append(found[0])
    firsts.sort(key=lambda p: (REASONS.index(p.reason), -p.strength, p.solution_id))
    return firsts[:budget]
