"""Batched, streaming PRM inference at pool scale (no Django).

For every step: P(negative), P(neutral), P(positive) at the step's label token. Step score =
P(not negative) = 1 - P(negative) (neutral counts as positive, the PRM800K default); solution
score = product of step scores (the paper's choice), or their minimum. A solution longer than
the context is scored on the steps that fit and marked truncated.

How a pool is scored: the input is read in windows (`window` examples), each window tokenized
with one batched tokenizer call (`StepTokenizer.encode_many`), sorted by length and cut into
token-budget batches (at most `token_budget` padded tokens, at most `batch_size` rows), so a
batch of short solutions is wide and a batch of long ones narrow and little compute goes to
padding. Results come back in input order, whatever the batches were: a solution's scores do
not depend on which others it was batched with (a test checks it). With a feature cache active
(`features.cached`, head-mode models), the backbone's hidden states come from the cache and only
the head runs.
"""

import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

import torch

from active_learning.prm import features
from active_learning.prm.batching import collate, token_budget_batches
from active_learning.prm.data import NEGATIVE, Example
from active_learning.prm.tokenization import Encoded, StepTokenizer

AGGREGATIONS = ("product", "min")
DEFAULT_TOKEN_BUDGET = 16_384  # padded tokens per forward pass
DEFAULT_WINDOW = 2_048  # examples read, tokenized and sorted at a time


@dataclass
class Scored:
    probabilities: list[list[float]]  # per kept step: [negative, neutral, positive]
    step_scores: list[float]
    solution_score: float | None
    kept_steps: int
    truncated: bool


@dataclass
class ScoreStats:
    """What a `score` call did (filled in as it goes): real tokens, padded tokens, solutions,
    forward passes, solutions answered from the feature cache, and seconds inside the model."""

    solutions: int = 0
    steps: int = 0  # steps scored (kept steps)
    tokens: int = 0
    padded_tokens: int = 0
    batches: int = 0
    from_cache: int = 0
    model_seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def aggregate(step_scores: list[float], how: str = "product") -> float | None:
    if how not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}")
    if not step_scores:
        return None
    return math.prod(step_scores) if how == "product" else min(step_scores)


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _probabilities(model, encoded: list[Encoded], pad_id: int, device) -> list[list]:
    inputs = collate(encoded, pad_id)
    with torch.inference_mode(), _autocast(device):
        logits = model(
            input_ids=inputs["input_ids"].to(device, non_blocking=True),
            attention_mask=inputs["attention_mask"].to(device, non_blocking=True),
        ).logits
    # only the label positions leave the device
    rows = []
    for row, e in enumerate(encoded):
        if e.step_ends:
            picked = logits[row, e.step_ends].float()
            rows.append(torch.softmax(picked, dim=-1))
        else:
            rows.append(None)
    return [r.cpu().tolist() if r is not None else [] for r in rows]


def score_encoded(
    model,
    encoded: list[Encoded],
    pad_id: int,
    *,
    batch_size: int = 64,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    stats: ScoreStats | None = None,
) -> list[list[list[float]]]:
    """Class probabilities at each kept step of each encoded input, in input order, computed in
    length-sorted token-budget batches (see `token_budget_batches`)."""
    device = next(model.parameters()).device
    lengths = [len(e.input_ids) for e in encoded]
    probabilities: list[list] = [[] for _ in encoded]
    for batch in token_budget_batches(lengths, token_budget, batch_size):
        rows = _probabilities(model, [encoded[i] for i in batch], pad_id, device)
        for i, row in zip(batch, rows, strict=True):
            probabilities[i] = row
        if stats is not None:
            stats.batches += 1
            stats.padded_tokens += len(batch) * max(lengths[i] for i in batch)
    return probabilities


def score(
    model,
    step_tokenizer: StepTokenizer,
    examples: Iterable[Example],
    *,
    batch_size: int = 64,
    aggregation: str = "product",
    token_budget: int | None = None,
    window: int = DEFAULT_WINDOW,
    stats: ScoreStats | None = None,
) -> Iterator[Scored]:
    """Scores in input order. `batch_size`: most rows per forward pass; `token_budget`: most
    padded tokens per pass (default DEFAULT_TOKEN_BUDGET, at least one max-length row);
    `window`: examples in memory at a time. `stats`, if given, is filled in.

    Raises ValueError for an unknown aggregation."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}")
    device = next(model.parameters()).device
    model.eval()
    budget = max(token_budget or DEFAULT_TOKEN_BUDGET, step_tokenizer.max_length)
    stats = stats if stats is not None else ScoreStats()
    iterator = iter(examples)
    while chunk := list(islice(iterator, window)):
        encoded = step_tokenizer.encode_many(chunk)
        probabilities: list[list] = [None] * len(encoded)  # type: ignore[list-item]
        started = time.monotonic()
        cache = features.active()
        if cache is not None:  # the backbone's features from the cache, the head applied here
            before = cache.hits
            hidden = cache.step_features(model, encoded, step_tokenizer.pad_id, batch_size)
            stats.from_cache += cache.hits - before
            head = features.head_module(model)
            dtype = next(head.parameters()).dtype
            with torch.inference_mode():
                for i, h in enumerate(hidden):
                    logits = head(h.to(device, dtype)).float()
                    probabilities[i] = torch.softmax(logits, dim=-1).cpu().tolist()
        else:
            probabilities = score_encoded(
                model,
                encoded,
                step_tokenizer.pad_id,
                batch_size=batch_size,
                token_budget=budget,
                stats=stats,
            )
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        stats.model_seconds += time.monotonic() - started
        for e, probs in zip(encoded, probabilities, strict=True):
            probs = probs if e.step_ends else []
            step_scores = [1.0 - p[NEGATIVE] for p in probs]
            stats.solutions += 1
            stats.steps += len(e.step_ends)
            stats.tokens += len(e.input_ids)
            yield Scored(
                probs, step_scores, aggregate(step_scores, aggregation), e.kept_steps, e.truncated
            )
