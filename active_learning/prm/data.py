"""Training examples for a process reward model (no Django, no torch).

An example is a problem, its steps, and one label per step (or None where the step is not
trained on). Following the PRM800K recipe (Lightman et al. 2023, "Let's Verify Step by Step",
section 2.6 and appendix): a labeling contributes its steps up to and including the first
Negative one; give_up and bad_problem labelings are dropped; a quality-control solution counts
once.

Classes: NEGATIVE = 0, NEUTRAL = 1, POSITIVE = 2. How a human Neutral (0) is trained is a
choice (`NeutralAs`): as positive (the paper's default for scoring), as negative, or as its own
class.
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

NEGATIVE, NEUTRAL, POSITIVE = 0, 1, 2
CLASS_NAMES = ("negative", "neutral", "positive")
DROPPED_FINISH_REASONS = frozenset({"give_up", "bad_problem"})
# The verl copies of MATH add this to every problem; ProcessBench problems do not carry it.
PROMPT_SUFFIX = " Let's think step by step and output the final answer within \\boxed{}."


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


def from_labelings(
    labelings: Iterable[dict], neutral: NeutralAs = NeutralAs.POSITIVE
) -> list[Example]:
    """Examples from labelings given as dicts with `problem`, `steps` (PRM800K label steps),
    `finish_reason`, `solution_id` and `is_quality_control`. A quality-control solution counts
    once (its first labeling)."""
    examples, seen_quality_control = [], set()
    for labeling in labelings:
        if labeling.get("is_quality_control"):
            if labeling["solution_id"] in seen_quality_control:
                continue
            seen_quality_control.add(labeling["solution_id"])
        example = from_label_steps(
            labeling["problem"],
            labeling["steps"],
            labeling["finish_reason"],
            neutral,
            source=f"labeling:{labeling.get('id', '')}",
        )
        if example is not None:
            example.meta["solution_id"] = labeling.get("solution_id")
            examples.append(example)
    return examples


def from_prm800k_jsonl(path: str | Path, neutral: NeutralAs = NeutralAs.POSITIVE) -> list[Example]:
    examples = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            example = from_label_steps(
                record["question"]["problem"],
                record["label"]["steps"],
                record["label"]["finish_reason"],
                neutral,
                source="prm800k",
            )
            if example is not None:
                examples.append(example)
    return examples


def from_processbench(
    records: Iterable[dict], *, all_steps_for_correct: bool = True
) -> list[Example]:
    """ProcessBench (`label` = index of the first wrong step, -1 if none): steps before it are
    positive, the step at it negative, later steps dropped."""
    examples = []
    for record in records:
        first_wrong = record["label"]
        steps = list(record["steps"])
        if first_wrong >= 0:
            steps = steps[: first_wrong + 1]
            labels = [POSITIVE] * first_wrong + [NEGATIVE]
        else:
            labels = [POSITIVE] * len(steps)
        examples.append(
            Example(
                strip_suffix(record["problem"]),
                steps,
                labels,
                source="processbench",
                meta={
                    "id": record.get("id"),
                    "label": first_wrong,
                    "final_answer_correct": record.get("final_answer_correct"),
                },
            )
        )
    return examples


def read_processbench(path: str | Path) -> list[dict]:
    """ProcessBench JSON (an array) or JSON Lines."""
    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def from_phase1_stepwise(
    rows: Iterable[dict], neutral: NeutralAs = NeutralAs.POSITIVE
) -> Iterator[Example]:
    """PRM800K phase 1 flattened to one row per rated step (`instruction`, `responses` = earlier
    steps, `next_response`, `rating`): each row is the earlier steps (not trained on) followed
    by the rated step. Rows with a null rating are skipped."""
    for row in rows:
        rating = row.get("rating")
        if rating is None or (isinstance(rating, float) and rating != rating):  # NaN
            continue
        previous = list(row.get("responses") or [])
        steps = [*previous, row["next_response"]]
        labels = [None] * len(previous) + [class_of(int(rating), neutral)]
        yield Example(strip_suffix(row["instruction"]), steps, labels, source="prm800k-phase1")


def read_phase1_parquet(path: str | Path, limit: int | None = None) -> Iterator[dict]:
    import pyarrow.parquet as pq  # only for this input

    parquet = pq.ParquetFile(path)
    seen = 0
    for batch in parquet.iter_batches(
        batch_size=4096, columns=["instruction", "responses", "next_response", "rating"]
    ):
        for row in batch.to_pylist():
            yield row
            seen += 1
            if limit is not None and seen >= limit:
                return


def strip_suffix(text: str) -> str:
    return text[: -len(PROMPT_SUFFIX)] if text.endswith(PROMPT_SUFFIX) else text


def label_counts(examples: Iterable[Example]) -> dict[str, int]:
    counts = dict.fromkeys(CLASS_NAMES, 0)
    for example in examples:
        for label in example.labels:
            if label is not None:
                counts[CLASS_NAMES[label]] += 1
    return counts
