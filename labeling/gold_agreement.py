"""Scoring a labeling against gold (no Django).

Step agreement: over the step positions both labelings rated (a non-null rating of the step's
first completion, the pre-generated step), the share with equal ratings; None when they share no
rated step. First-error match: both put their first Negative at the same step, or neither has
one. These are the quality-control measures PRM800K used for its labelers (75% agreement to pass
screening).

Phase 1 (no pre-generated solution; labeling/phase1_rules.py): two labelers may take different
paths, so the same position can hold different steps. Step agreement then compares the
proposals both rated at the same point: the same step text after the same path
(`phase1_agreement`). Phase 1 has no first error: the match is always true.
"""

import json
from collections.abc import Sequence

from labeling.prm800k import trajectory


def first_ratings(label_steps: Sequence[dict]) -> list[int | None]:
    ratings = []
    for step in label_steps:
        completions = step.get("completions") or ()
        ratings.append(completions[0].get("rating") if completions else None)
    return ratings


def step_agreement(gold: Sequence[int | None], given: Sequence[int | None]) -> tuple[int, int]:
    """(equal, compared) over the positions both rated."""
    equal = compared = 0
    for a, b in zip(gold, given, strict=False):
        if a is None or b is None:
            continue
        compared += 1
        equal += a == b
    return equal, compared


def first_error(ratings: Sequence[int | None]) -> int | None:
    for i, rating in enumerate(ratings):
        if rating == -1:
            return i
    return None


def score(gold_steps: Sequence[dict], steps: Sequence[dict]) -> tuple[float | None, bool]:
    """(step agreement or None, first-error match) of `steps` against `gold_steps`."""
    gold, given = first_ratings(gold_steps), first_ratings(steps)
    equal, compared = step_agreement(gold, given)
    return (equal / compared if compared else None), first_error(gold) == first_error(given)


def rated_proposals(label_steps: Sequence[dict]) -> dict[tuple[str, str], int]:
    """{(the path before the step as JSON, the proposal's text): rating} of every rated
    completion of a phase-1 labeling."""
    rated = {}
    for i, step in enumerate(label_steps):
        path = json.dumps(trajectory(list(label_steps[:i])))
        for completion in step.get("completions") or ():
            if completion.get("rating") is not None:
                rated[(path, completion.get("text"))] = completion["rating"]
    return rated


def phase1_agreement(gold_steps: Sequence[dict], steps: Sequence[dict]) -> tuple[int, int]:
    """(equal, compared) over the proposals both phase-1 labelings rated at the same point."""
    gold, given = rated_proposals(gold_steps), rated_proposals(steps)
    shared = gold.keys() & given.keys()
    return sum(gold[key] == given[key] for key in shared), len(shared)


def agreement_counts(
    gold_steps: Sequence[dict], steps: Sequence[dict], phase1: bool = False
) -> tuple[int, int]:
    """(equal, compared): by step position (phase 2), or by point and proposal (phase 1)."""
    if phase1:
        return phase1_agreement(gold_steps, steps)
    return step_agreement(first_ratings(gold_steps), first_ratings(steps))


def score_labeling(
    gold_steps: Sequence[dict], steps: Sequence[dict], phase1: bool = False
) -> tuple[float | None, bool]:
    """`score`, or for a phase-1 labeling (`phase1`) its proposal agreement and True."""
    if not phase1:
        return score(gold_steps, steps)
    equal, compared = phase1_agreement(gold_steps, steps)
    return (equal / compared if compared else None), True
