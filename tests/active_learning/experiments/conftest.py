"""Helpers of the experiment's tests: a pool with a planted signal, a small configuration."""

import numpy as np

from active_learning.experiments import design, learner
from active_learning.experiments.pools import Item


def planted_pool(problems=400, seed=0, hard=0.1, easy=0.3, width=20):
    """Step features of width 20, dim 0 ~ +1 for good steps. Easy wrong steps: dim 0 - 3 (the
    head learns them from any sample). Hard wrong steps (10% of solutions) look good on dim 0
    and differ only on dim 1 (+3): a head trained on a few random solutions has seen few of them
    and scores solutions holding one high, so choosing high-scoring wrong solutions (oracle)
    teaches dim 1 faster than uniform picks do."""
    rng = np.random.default_rng(seed)
    items = []
    for p in range(problems):
        n = int(rng.integers(3, 8))
        feats = rng.normal(0, 1, size=(n, width)).astype(np.float32)
        feats[:, 0] += 1.0
        u = rng.random()
        first_error = -1
        if u < hard + easy:
            first_error = int(rng.integers(0, n))
            if u < hard:
                feats[first_error, 1] += 3.0
            else:
                feats[first_error, 0] -= 3.0
        items.append(
            Item(
                key=str(p),
                problem=f"problem {p}",
                steps=["s"] * n,
                first_error=first_error,
                final_correct=first_error < 0,
                features=feats,
            )
        )
    return learner.Data.from_items(items)


def small_config(**kwargs):
    defaults = dict(seeds=6, seed_batch=10, batch=10, rounds=3, regularization=1.0)
    return design.Config(**{**defaults, **kwargs})
