"""Training examples for a process reward model (no Django, no torch).

An example is a problem, its steps, and one label per step (or None where the step is not
trained on). How a labeling's ratings become examples (the PRM800K recipe: Lightman et al.
2023, "Let's Verify Step by Step", section 2.6 and appendix) lives in
`training_recipe.prm800k`, which the labeling app's export shares; this module re-exports it
and adds the readers (labelings, PRM800K JSON Lines, ProcessBench, phase-1 stepwise parquet).
A quality-control solution counts once.

Classes: NEGATIVE = 0, NEUTRAL = 1, POSITIVE = 2. How a human Neutral (0) is trained is a
choice (`NeutralAs`): as positive (the paper's default for scoring), as negative, or as its own
class.
"""

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from training_recipe.prm800k import (
    CLASS_NAMES,
    DROPPED_FINISH_REASONS,
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    Example,
    NeutralAs,
    class_of,
    examples_from_label_steps,
    from_label_steps,
    labeled_steps,
    ratings_present,
)

__all__ = [
    "CLASS_NAMES",
    "DROPPED_FINISH_REASONS",
    "NEGATIVE",
    "NEUTRAL",
    "POSITIVE",
    "PROMPT_SUFFIX",
    "Example",
    "NeutralAs",
    "class_of",
    "examples_from_label_steps",
    "from_label_steps",
    "labeled_steps",
    "ratings_present",
]

# The verl copies of MATH add this to every problem; ProcessBench problems do not carry it.
PROMPT_SUFFIX = " Let's think step by step and output the final answer within \\boxed{}."


def from_labelings(
    labelings: Iterable[dict], neutral: NeutralAs = NeutralAs.POSITIVE
) -> list[Example]:
    """Examples from labelings given as dicts with `problem`, `steps` (PRM800K label steps),
    `finish_reason`, `solution_id` and `is_quality_control`: every rating, as
    `examples_from_label_steps` says (a labeling of a pre-generated solution stops at its
    first error; alternatives a labeler rated are used too). A quality-control solution counts
    once (its first labeling)."""
    examples, seen_quality_control = [], set()
    for labeling in labelings:
        if labeling.get("is_quality_control"):
            if labeling["solution_id"] in seen_quality_control:
                continue
            seen_quality_control.add(labeling["solution_id"])
        for example in examples_from_label_steps(
            labeling["problem"],
            labeling["steps"],
            labeling["finish_reason"],
            neutral,
            source=f"labeling:{labeling.get('id', '')}",
            phase2=labeling.get("phase2", True),
        ):
            example.meta["solution_id"] = labeling.get("solution_id")
            examples.append(example)
    return examples


# PRM800K's own give_up labelings still carry valid step ratings (the labeler rated every
# step up to where they stopped); only a bad problem makes its ratings meaningless.
PRM800K_DROPPED = frozenset({"bad_problem"})


def from_prm800k_record(record: dict, neutral: NeutralAs = NeutralAs.POSITIVE) -> list[Example]:
    """Every rating of one PRM800K record (phase 1 when `generation` is null, else phase 2)."""
    return examples_from_label_steps(
        record["question"]["problem"],
        record["label"]["steps"],
        record["label"]["finish_reason"],
        neutral,
        source="prm800k",
        phase2=record.get("generation") is not None,
        dropped=PRM800K_DROPPED,
    )


def from_prm800k_jsonl(path: str | Path, neutral: NeutralAs = NeutralAs.POSITIVE) -> list[Example]:
    examples = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                examples.extend(from_prm800k_record(json.loads(line), neutral))
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
    steps, `next_response`, `rating`), merged back into trajectories: a row whose steps
    (`responses` + `next_response`) are the start of a longer row's `responses` is labeled
    inside that longer sequence instead of being encoded again, so each distinct path is
    encoded once and every rating is still used once. Rows with a null rating are skipped.
    A row repeated with the same path and the same rating counts once (the train file has
    5,872 repeated rows, 55 paths of them with differing ratings); a path rated differently by
    different rows keeps each distinct rating (the extra ones as examples of their own).

    Rows are grouped per problem (`instruction`), in the order problems first appear; an
    example's labels are None where no row rates that position."""
    by_problem: dict[str, dict[tuple, int]] = {}
    conflicting: list[tuple[str, tuple, int]] = []
    for row in rows:
        rating = row.get("rating")
        if rating is None or (isinstance(rating, float) and rating != rating):  # NaN
            continue
        path = (*(row.get("responses") or ()), row["next_response"])
        label = class_of(int(rating), neutral)
        known = by_problem.setdefault(row["instruction"], {})
        if path not in known:
            known[path] = label
        elif known[path] != label and (row["instruction"], path, label) not in conflicting:
            conflicting.append((row["instruction"], path, label))
    for instruction, path, label in conflicting:
        yield Example(
            strip_suffix(instruction),
            list(path),
            [None] * (len(path) - 1) + [label],
            source="prm800k-phase1",
        )
    for instruction, rated in by_problem.items():
        problem = strip_suffix(instruction)
        # a path is a leaf when no other rated path continues it
        continued = {path[:n] for path in rated for n in range(1, len(path))}
        assigned: set[tuple] = set()
        # longest first: a shared prefix's rating goes to the longest path through it
        for path in sorted((p for p in rated if p not in continued), key=len, reverse=True):
            labels = []
            for n in range(1, len(path) + 1):
                prefix = path[:n]
                if prefix in rated and prefix not in assigned:
                    labels.append(rated[prefix])
                    assigned.add(prefix)
                else:
                    labels.append(None)
            yield Example(problem, list(path), labels, source="prm800k-phase1")


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
