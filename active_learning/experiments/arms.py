"""The experiment's arms: selecting each batch (`choose`: uniform, convincing wrong, wrong at
random, the oracles) and running an arm round by round in either form (`run_arm`, `run`)."""

import time
from collections.abc import Callable

import numpy as np

from active_learning import selection
from active_learning.experiments.design import ORACLES, Config, Split, sample_pool, split_problems
from active_learning.experiments.learner import Data, Head, evaluate, label_within, mean_first_error

# -- selection ---------------------------------------------------------------------------------


def _candidates(data: Data, indices: list[int], scores: list[float], arm: str):
    """Selection candidates; for the oracle arms "wrong" is the oracle's process label, counted
    only when the first wrong step is among the kept steps (one the truncation cut off yields
    no negative label: to the learner that solution is all good)."""
    problem_ids: dict[str, int] = {}
    out = []
    for i, score in zip(indices, scores, strict=True):
        pid = problem_ids.setdefault(data.problems[i], len(problem_ids))
        if arm in ORACLES:
            correct = label_within(int(data.first_error[i]), len(data.features[i])) < 0
        else:
            correct = data.final_correct[i]
        out.append(selection.Candidate(i, pid, score, correct, bool(data.truncated[i])))
    return out


def oracle_scores(data: Data, indices: list[int], probs: list[np.ndarray]) -> list[float | None]:
    """The oracle's ranking score: for a solution whose first wrong step was kept, the head's
    P(good) at that step (high = a hard negative: the head takes the error for a good step);
    for the others the solution score (product of step probabilities)."""
    scores: list[float | None] = []
    for i, p in zip(indices, probs, strict=True):
        fe = label_within(int(data.first_error[i]), len(p))
        scores.append(float(p[fe]) if fe >= 0 else float(np.prod(p)) if len(p) else None)
    return scores


def choose(
    data: Data, arm: str, head: Head | None, available: list[int], n: int, seed: int, config
) -> tuple[list[int], selection.Selection]:
    """The arm's next `n` picks from `available`, in serving order."""
    if arm in ("uniform", "uniform_balanced") or head is None:
        scores = [None] * len(available)
        strategy = "uniform"
    else:
        probs = data.step_probs(head, available)
        if arm == "oracle":
            scores = oracle_scores(data, available, probs)
        else:
            scores = [float(np.prod(p)) if len(p) else None for p in probs]
        strategy = "wrong_random" if arm == "wrong_random" else "convincing_wrong"
    result = selection.plan(
        _candidates(data, available, scores, arm),
        batch_size=n,
        per_problem_cap=config.per_problem_cap,
        wrong_share=config.wrong_share,
        strategy=strategy,
        seed=seed,
        truncated_policy=config.truncated_policy,
    )
    return [c.solution_id for c in result.picks], result


def run_arm(data: Data, split: Split, arm: str, form: str, seed: int, config: Config) -> list:
    """One curve: a row per evaluation point (the seed batch, then after every batch)."""
    balanced = arm == "uniform_balanced"
    seed_picks, _ = choose(data, "uniform", None, split.pool, config.seed_batch, seed, config)
    labeled = list(seed_picks)
    rows = []

    def point(round_number: int, head: Head, spent: int, picked: list[int]):
        metrics = evaluate(data, head, split)
        graded_wrong = sum(data.final_correct[i] is False for i in picked)
        rows.append(
            {
                "arm": arm,
                "form": form,
                "seed": seed,
                "round": round_number,
                "solutions": len(labeled),
                "labels": spent,
                "wrong_share_served": graded_wrong / len(picked) if picked else None,
                "process_wrong_share": (
                    float(np.mean(data.first_error[picked] >= 0)) if picked else None
                ),
                # what the arm labels: kept steps per picked solution, and where its errors are
                "steps_per_solution": (
                    float(np.mean([len(data.features[i]) for i in picked])) if picked else None
                ),
                "first_error_step": mean_first_error(data, picked),
                **metrics,
            }
        )

    def train(indices):
        x, y, spent = data.training_set(indices)
        return Head(config.regularization, balanced).fit(x, y), spent

    head, spent = train(labeled)
    point(0, head, spent, [])
    if form == "iterative":
        picked_all: list[int] = []
        for r in range(1, config.rounds + 1):
            available = sorted(set(split.pool) - set(labeled))
            picks, _ = choose(data, arm, head, available, config.batch, seed * 1000 + r, config)
            labeled += picks
            picked_all += picks
            head, spent = train(labeled)
            point(r, head, spent, picked_all)
    else:
        available = sorted(set(split.pool) - set(labeled))
        order, _ = choose(
            data, arm, head, available, config.batch * config.rounds, seed * 1000 + 1, config
        )
        for r in range(1, config.rounds + 1):
            picked_all = order[: config.batch * r]
            labeled = list(seed_picks) + picked_all
            head, spent = train(labeled)
            point(r, head, spent, picked_all)
    return rows


def run(pools: dict[str, Data], config: Config, log: Callable[[str], None] = print) -> list[dict]:
    """Every pool x form x arm x seed; a row per evaluation point."""
    rows = []
    for pool_name, data in pools.items():
        started = time.monotonic()
        for seed in range(config.first_seed, config.first_seed + config.seeds):
            split = split_problems(data.problems, seed, config.test_share, config.validation_share)
            if config.pool_size:
                split.pool = sample_pool(split.pool, config.pool_size, seed)
            seeded = data.projected(split.pool, config.pca_dims, seed)
            for form in config.forms:
                for arm in config.arms:
                    for row in run_arm(seeded, split, arm, form, seed, config):
                        rows.append({"pool": pool_name, **row})
        log(
            f"{pool_name}: {config.seeds} seeds x {len(config.forms)} forms x "
            f"{len(config.arms)} arms in {time.monotonic() - started:.0f} s"
        )
    return rows
