"""Scoring a labeling against gold (no Django).

Step agreement: over the step positions both labelings rated (a non-null rating of the step's
first completion, the pre-generated step), the share with equal ratings; None when they share no
rated step. First-error match: both put their first Negative at the same step, or neither has
one. These are the quality-control measures PRM800K used for its labelers (75% agreement to pass
screening).
"""

from collections.abc import Sequence


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
