"""Batched, streaming PRM inference (no Django).

For every step: P(negative), P(neutral), P(positive) at the step's label token. Step score =
P(not negative) = 1 - P(negative) (neutral counts as positive, the PRM800K default); solution
score = product of step scores (the paper's choice), or their minimum. A solution longer than
the context is scored on the steps that fit and marked truncated.
"""

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

import torch

from active_learning.prm import features
from active_learning.prm.data import NEGATIVE, Example
from active_learning.prm.tokenization import Encoded, StepTokenizer

AGGREGATIONS = ("product", "min")


@dataclass
class Scored:
    probabilities: list[list[float]]  # per kept step: [negative, neutral, positive]
    step_scores: list[float]
    solution_score: float | None
    kept_steps: int
    truncated: bool


def aggregate(step_scores: list[float], how: str = "product") -> float | None:
    if how not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}")
    if not step_scores:
        return None
    return math.prod(step_scores) if how == "product" else min(step_scores)


def collate(encoded: list[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded batch (a causal model's earlier positions never see the padding)."""
    width = max(len(e.input_ids) for e in encoded)
    ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    labels = torch.full((len(encoded), width), -100, dtype=torch.long)
    for row, e in enumerate(encoded):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        mask[row, :n] = 1
        labels[row, :n] = torch.tensor(e.labels)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def score(
    model,
    step_tokenizer: StepTokenizer,
    examples: Iterable[Example],
    *,
    batch_size: int = 16,
    aggregation: str = "product",
) -> Iterator[Scored]:
    """Scores in input order, one batch in memory at a time."""
    device = next(model.parameters()).device
    model.eval()
    iterator = iter(examples)
    while batch := list(islice(iterator, batch_size)):
        encoded = [step_tokenizer.encode(example) for example in batch]
        cache = features.active()
        if cache is not None:  # the backbone's features from the cache, the head applied here
            hidden = cache.step_features(model, encoded, step_tokenizer.pad_id, batch_size)
            head = features.head_module(model)
            dtype = next(head.parameters()).dtype
            with torch.inference_mode():
                rows = [
                    torch.softmax(head(h.to(device, dtype)).float(), dim=-1).cpu().tolist()
                    for h in hidden
                ]
        else:
            inputs = collate(encoded, step_tokenizer.pad_id)
            with torch.inference_mode(), _autocast(device):
                logits = model(
                    input_ids=inputs["input_ids"].to(device),
                    attention_mask=inputs["attention_mask"].to(device),
                ).logits
            probabilities = torch.softmax(logits.float(), dim=-1).cpu()
            rows = [probabilities[row, e.step_ends].tolist() for row, e in enumerate(encoded)]
        for e, probs in zip(encoded, rows, strict=True):
            probs = probs if e.step_ends else []
            step_scores = [1.0 - p[NEGATIVE] for p in probs]
            yield Scored(
                probs, step_scores, aggregate(step_scores, aggregation), e.kept_steps, e.truncated
            )
