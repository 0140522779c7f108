"""The candidate pools of the active-learning experiment and their frozen-backbone features.

Two pools (see docs/active-learning-simulation.md for what each can and cannot show):

- ``processbench``: every ProcessBench MATH solution in the shared data (1,000 solutions of 955
  problems; `label` = index of the first wrong step, -1 when none, judged by experts). Almost one
  candidate per problem; `final_answer_correct` is the graded final answer the convincing-wrong
  rule uses.
- ``prm800k``: many candidates per problem from PRM800K phase 1 (the shared stepwise parquet):
  each rated row is a candidate "earlier steps + the rated step"; the earlier steps' ratings are
  looked up in the rows that rated them (a step that was continued from and has no row counts
  as good). Phase 1 has no graded final answer per candidate: a candidate is graded (correct
  or wrong) only when its last step is a rated final solution step (`is_solution`), using its
  rating; all other candidates are ungraded and never count as wrong.

Features: the hidden state at each step's label token of a frozen backbone (the loop's `head`
mode), computed once through `active_learning.prm.features.FeatureCache` and saved to disk, so
later runs (and every round of every arm and seed) reuse them. Truncation at `max_length` is
counted per pool.
"""

import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@dataclass
class Item:
    """One candidate solution of a pool.

    `first_error`: index of the first wrong step (-1: none); `final_correct`: the graded final
    answer (None: ungraded); `features`: [kept steps, hidden] float32 (filled by `featurize`);
    `truncated`: fewer steps fit in `max_length` than the solution has."""

    key: str
    problem: str
    steps: list[str]
    first_error: int
    final_correct: bool | None
    features: np.ndarray | None = None
    truncated: bool = False

    @property
    def has_error(self) -> bool:
        return self.first_error >= 0


def processbench_items(path: Path) -> list[Item]:
    from active_learning.prm import data

    items = []
    for r in data.read_processbench(path):
        items.append(
            Item(
                key=f"pb:{r['id']}",
                problem=data.strip_suffix(r["problem"]),
                steps=list(r["steps"]),
                first_error=int(r["label"]),
                final_correct=r.get("final_answer_correct"),
            )
        )
    return items


def prm800k_items(
    path: Path, *, problems: int = 50, per_problem: int = 12, min_candidates: int = 8, seed=0
) -> list[Item]:
    """Up to `problems` problems with at least `min_candidates` rated candidates, up to
    `per_problem` candidates each (a seeded sample; deterministic for a seed)."""
    import random

    import pyarrow.parquet as pq

    table = pq.read_table(
        path,
        columns=["instruction", "responses", "next_response", "rating", "is_solution"],
    ).to_pylist()
    rating_of: dict[tuple, float] = {}
    by_problem: dict[str, list[dict]] = defaultdict(list)
    for row in table:
        rating = row["rating"]
        if rating is None or rating != rating:
            continue
        previous = tuple(row["responses"] or [])
        rating_of[(row["instruction"], previous, row["next_response"])] = rating
        by_problem[row["instruction"]].append(row)
    rng = random.Random(seed)
    names = sorted(p for p, rows in by_problem.items() if len(rows) >= min_candidates)
    rng.shuffle(names)
    items = []
    for problem in names[:problems]:
        rows = sorted(
            by_problem[problem], key=lambda r: (len(r["responses"] or []), r["next_response"])
        )
        rng.shuffle(rows)
        for row in rows[:per_problem]:
            previous = list(row["responses"] or [])
            steps = [*previous, row["next_response"]]
            ratings = [
                rating_of.get((problem, tuple(previous[:k]), previous[k]), 1.0)
                for k in range(len(previous))
            ] + [row["rating"]]
            first_error = next((k for k, r in enumerate(ratings) if r == -1), -1)
            graded = bool(row["is_solution"])
            items.append(
                Item(
                    key=f"p1:{len(items)}",
                    problem=problem.removesuffix(" Let's think step by step."),
                    steps=steps,
                    first_error=first_error,
                    final_correct=(row["rating"] != -1) if graded else None,
                )
            )
    return items


def featurize(
    items: list[Item],
    *,
    backbone: str,
    keep_layers: int | None,
    max_length: int,
    cache_path: Path,
    backbone_cache: Path,
    log=print,
    batch_size: int = 4,
) -> dict:
    """Fill `item.features` and `item.truncated` for every item, through the on-disk feature
    cache (only inputs missing from it go through the backbone). Returns facts for the report:
    seconds, computed, reused, truncated."""
    from active_learning.prm import backbones
    from active_learning.prm.data import Example
    from active_learning.prm.features import FeatureCache
    from active_learning.prm.tokenization import StepTokenizer

    started = time.monotonic()
    model, tokenizer = backbones.load(backbone, cache_dir=backbone_cache, keep_layers=keep_layers)
    model.eval()
    step_tokenizer = StepTokenizer(tokenizer, max_length)
    encoded = [
        step_tokenizer.encode(Example(i.problem, i.steps, [None] * len(i.steps))) for i in items
    ]
    cache = FeatureCache(cache_path)
    before = len(cache)
    done = 0
    chunk = 64
    for start in range(0, len(items), chunk):
        part = encoded[start : start + chunk]
        feats = cache.step_features(model, part, step_tokenizer.pad_id, batch_size)
        for item, e, f in zip(items[start : start + chunk], part, feats, strict=True):
            item.features = f.numpy().astype(np.float32)
            item.truncated = e.truncated
        done += len(part)
        if len(cache) > before:
            log(f"  features: {done}/{len(items)} ({time.monotonic() - started:.0f} s)")
            cache.save()
    cache.save()
    del model
    return {
        "seconds": round(time.monotonic() - started, 1),
        "computed": len(cache) - before,
        "reused": len(items) - (len(cache) - before),
        "truncated": sum(i.truncated for i in items),
        "items": len(items),
    }
