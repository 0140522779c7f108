"""The PRM800K training recipe: how a labeling's rated steps become training examples
(no Django, no torch, no app code).

Following Lightman et al. 2023 ("Let's Verify Step by Step", section 2.6 and appendix): phase 2
labelings contribute their steps up to and including the first Negative one, phase 1 labelings
every rated completion (`examples_from_label_steps`); give_up and bad_problem labelings are
dropped. Classes: NEGATIVE = 0, NEUTRAL = 1, POSITIVE = 2. How a human Neutral (0) is trained is
a choice (`NeutralAs`): as positive (the paper's default for scoring), as negative, or as its
own class.

Both apps use it and neither owns it: labeling's training-row export (`labeling/exports.py`)
and the PRM library (`active_learning/prm/data.py`, which re-exports these names). Labeling
never imports the loop; this package imports neither (import-linter contracts in
pyproject.toml).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

NEGATIVE, NEUTRAL, POSITIVE = 0, 1, 2
CLASS_NAMES = ("negative", "neutral", "positive")
DROPPED_FINISH_REASONS = frozenset({"give_up", "bad_problem"})


class NeutralAs(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"
    OWN_CLASS = "own"


@dataclass
class Example:
    problem: str
    steps: list[str]
    labels: list[int | None]  # per step; None = not trained on
    source: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if len(self.steps) != len(self.labels):
            raise ValueError("an example needs one label (or None) per step")


def class_of(rating: int, neutral: NeutralAs = NeutralAs.POSITIVE) -> int:
    if rating == -1:
        return NEGATIVE
    if rating == 1:
        return POSITIVE
    if rating == 0:
        return {
            NeutralAs.POSITIVE: POSITIVE,
            NeutralAs.NEGATIVE: NEGATIVE,
            NeutralAs.OWN_CLASS: NEUTRAL,
        }[NeutralAs(neutral)]
    raise ValueError(f"rating {rating!r} is not -1, 0 or 1")


def from_label_steps(
    problem: str,
    label_steps: list[dict],
    finish_reason: str | None,
    neutral: NeutralAs = NeutralAs.POSITIVE,
    source: str = "",
) -> Example | None:
    """An example from a PRM800K `label.steps` list (the trajectory's rated first completions),
    cut after the first Negative; None for dropped finish reasons or nothing rated."""
    if finish_reason in DROPPED_FINISH_REASONS:
        return None
    steps, labels = [], []
    for step in label_steps:
        completions = step.get("completions") or ()
        chosen = step.get("chosen_completion")
        human = step.get("human_completion")
        if completions and completions[0].get("rating") == -1:
            steps.append(completions[0]["text"])
            labels.append(NEGATIVE)
            break
        if chosen is not None:
            completion = completions[chosen]
        elif human is not None and human.get("text") is not None:
            completion = human
        elif completions:
            completion = completions[0]
        else:
            break
        rating = completion.get("rating")
        steps.append(completion["text"])
        labels.append(None if rating is None else class_of(rating, neutral))
    if not any(label is not None for label in labels):
        return None
    return Example(problem, steps, labels, source=source)


def _rating(completion: dict | None):
    return None if not completion else completion.get("rating")


def examples_from_label_steps(
    problem: str,
    label_steps: list[dict],
    finish_reason: str | None,
    neutral: NeutralAs = NeutralAs.POSITIVE,
    source: str = "",
    *,
    phase2: bool = False,
    dropped: frozenset = DROPPED_FINISH_REASONS,
) -> list[Example]:
    """Every rating of a PRM800K labeling as training examples (Lightman et al. 2023, section
    2.6 and appendix; the release's label layout in ../shared/PRM800K-FORMAT.md).

    The labeler walks one trajectory: at each step they rate one or several candidate
    completions (phase 1: up to seven alternatives, plus optionally their own), then continue
    along the chosen completion (`chosen_completion`) or their own (`human_completion`), and stop
    where neither is given (the end, a found error, give up). So:

    - the trajectory (the completions continued along) is one example, labeled where they are
      rated;
    - each other rated completion at a step is an example of its own: the trajectory's earlier
      steps (not trained on again, label None) followed by that completion with its rating;
    - phase 2 (`phase2`, pre-generated solutions: one completion per step except where the
      labeler stopped) stops at the first Negative step, as the paper's phase-2 recipe does.

    Examples are returned trajectory first; none for a finish reason in `dropped` or when
    nothing is rated. Every rating of the labeling is used exactly once, so
    `sum(labeled steps)` equals the ratings present (a test counts them on the shared
    records)."""
    if finish_reason in dropped:
        return []
    trajectory_steps: list[str] = []
    trajectory_labels: list[int | None] = []
    alternatives: list[Example] = []
    for step in label_steps:
        completions = list(step.get("completions") or ())
        chosen = step.get("chosen_completion")
        human = step.get("human_completion")
        if chosen is not None and 0 <= chosen < len(completions):
            follow = completions[chosen]
        elif human is not None and human.get("text") is not None:
            follow = human
        else:
            follow = None
        rated = [c for c in completions if c is not follow and _rating(c) is not None]
        if human is not None and human is not follow and _rating(human) is not None:
            rated.append(human)
        for completion in rated:
            alternatives.append(
                Example(
                    problem,
                    [*trajectory_steps, completion["text"]],
                    [None] * len(trajectory_steps) + [class_of(completion["rating"], neutral)],
                    source=source,
                    meta={"alternative": True},
                )
            )
        if follow is None:
            break  # the labeler stopped here
        rating = _rating(follow)
        trajectory_steps.append(follow["text"])
        trajectory_labels.append(None if rating is None else class_of(rating, neutral))
        if phase2 and rating == -1:
            break  # phase 2: nothing after the first error
    examples = []
    if any(label is not None for label in trajectory_labels):
        examples.append(Example(problem, trajectory_steps, trajectory_labels, source=source))
    return examples + alternatives


def ratings_present(label_steps: list[dict]) -> int:
    """Ratings (not null) in a PRM800K label: every completion's and the human one's."""
    count = 0
    for step in label_steps:
        count += sum(_rating(c) is not None for c in step.get("completions") or ())
        count += _rating(step.get("human_completion")) is not None
    return count


def labeled_steps(examples: Iterable[Example]) -> int:
    return sum(label is not None for e in examples for label in e.labels)


def from_first_error(problem: str, steps: list[str], first_error: int, source: str = "") -> Example:
    """The example of an adjudicated first error (a lead's ruling, docs/model-assisted.md),
    in the phase-2 recipe's shape (Lightman et al. 2023, section 2.6: steps up to and
    including the first error): the steps before `first_error` POSITIVE and that step
    NEGATIVE; for `first_error` -1 (no error) every step POSITIVE. ValueError when
    `first_error` is not -1 or a step index."""
    if not -1 <= first_error < len(steps):
        raise ValueError(f"first_error {first_error} is not -1 or a step of {len(steps)}")
    if first_error == -1:
        return Example(problem, list(steps), [POSITIVE] * len(steps), source=source)
    return Example(
        problem,
        list(steps[: first_error + 1]),
        [POSITIVE] * first_error + [NEGATIVE],
        source=source,
    )
