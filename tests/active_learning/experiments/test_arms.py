"""The experiment's arms (`active_learning/experiments/arms.py`): what each arm selects and
labels, in both forms, on planted pools."""

import numpy as np
import pytest

from active_learning.experiments import analysis, arms, design, learner
from active_learning.experiments.pools import Item
from tests.active_learning.experiments.conftest import planted_pool, small_config


def test_oracle_beats_uniform_on_a_planted_signal():
    """With hard negatives planted, choosing them (oracle) must give a better held-out step AUC
    than uniform picks in most seeds; if the arms were swapped or selection ignored the scores,
    this fails."""
    data = planted_pool()
    config = small_config(arms=("uniform", "oracle"), forms=("iterative",), seeds=12)
    rows = arms.run({"synthetic": data}, config, log=lambda m: None)
    gap = analysis.paired(rows, "synthetic", "iterative", "oracle", "uniform", "step_auc")
    # measured: +0.025 [+0.008, +0.042], ahead in 10 of 12 seeds
    assert gap["low"] > 0 and gap["ahead"] >= 9, gap


def test_wrong_random_serves_the_same_share_as_convincing_wrong():
    data = planted_pool()
    config = small_config(arms=("convincing_wrong", "wrong_random", "uniform"), seeds=2)
    rows = arms.run({"synthetic": data}, config, log=lambda m: None)
    for form in design.FORMS:
        for seed in (0, 1):
            share = {
                r["arm"]: r["wrong_share_served"]
                for r in rows
                if r["form"] == form and r["seed"] == seed and r["round"] == 3
            }
            assert share["convincing_wrong"] == share["wrong_random"] == pytest.approx(0.8)
            assert share["uniform"] < 0.6  # 40% of the pool is wrong: uniform serves about 0.4


def test_one_shot_evaluates_prefixes_of_one_order():
    data = planted_pool(problems=120)
    config = small_config(arms=("convincing_wrong",), forms=("one_shot",), seeds=2)
    rows = arms.run({"s": data}, config, log=lambda m: None)
    mine = [r for r in rows if r["seed"] == 0]
    assert [r["solutions"] for r in mine] == [10, 20, 30, 40]
    assert all(r["step_auc"] is not None for r in mine)


class _FirstDimHead:
    """A fixed head: P(good) of a step = its feature 0."""

    def predict(self, x):
        return np.asarray(x)[:, 0]


def _oracle_pool():
    """Four wrong solutions of distinct problems, P(good) per step in feature 0:
    0: 2 steps, an obvious error at step 1 (P 0.2): product 0.18, the highest of the wrong ones;
    1: 6 steps, a hard error at step 3 (the head gives it 0.95): product 0.60 ** 5 * 0.95 = 0.07;
    2: 4 steps, a middling error at step 2 (0.5): product 0.5 ** 4 = 0.06;
    3: 3 steps, first error at step 5, cut off by truncation (only 3 kept): all-good labels."""
    steps = {
        0: ([0.9, 0.2], 1),
        1: ([0.6, 0.6, 0.6, 0.95, 0.6, 0.6], 3),
        2: ([0.5, 0.5, 0.5, 0.5], 2),
        3: ([0.99, 0.99, 0.99], 5),
    }
    items = [
        Item(
            key=str(k),
            problem=f"problem {k}",
            steps=["s"] * len(p),
            first_error=fe,
            final_correct=False,
            features=np.array([[v, 0.0] for v in p], dtype=np.float32),
            truncated=k == 3,
        )
        for k, (p, fe) in steps.items()
    ]
    return learner.Data.from_items(items)


def test_the_oracle_picks_the_errors_the_head_takes_for_good_steps():
    """The oracle's hard negative is the solution whose first wrong step the head scores most
    likely good (solution 1, P 0.95), not the highest product of step probabilities, which
    favours short solutions (solution 0, product 0.18, error scored 0.2). The first version
    (product; kept as `oracle_product`) served 0 first: this test fails on it."""
    data = _oracle_pool()
    config = design.Config(wrong_share=1.0, truncated_policy="ignore")
    order, _ = arms.choose(data, "oracle", _FirstDimHead(), [0, 1, 2], 3, 0, config)
    assert order == [1, 2, 0]
    order, _ = arms.choose(data, "oracle_product", _FirstDimHead(), [0, 1, 2], 3, 0, config)
    assert order[0] == 0


def test_an_error_cut_off_by_truncation_is_not_wrong_for_the_oracle():
    """Solution 3's first error (step 5) was cut off: its labels are all good, so the oracle
    must not spend its wrong-answer share on it (the first version counted it wrong)."""
    data = _oracle_pool()
    config = design.Config(wrong_share=0.5, truncated_policy="ignore")
    for arm in design.ORACLES:
        _, plan = arms.choose(data, arm, _FirstDimHead(), [0, 1, 2, 3], 2, 0, config)
        assert plan.wrong_available == 3, arm
        # one wrong pick (the share), and 3 is the only "other" left to fill the batch
        assert [(c.solution_id, c.is_correct) for c in plan.picks if c.solution_id == 3] == [
            (3, True)
        ], arm


def test_rows_say_what_each_arm_labels():
    data = planted_pool(problems=120)
    config = small_config(arms=("uniform", "oracle"), forms=("iterative",), seeds=2)
    rows = arms.run({"s": data}, config, log=lambda m: None)
    for r in analysis.final_rows(rows):
        assert 3 <= r["steps_per_solution"] <= 7  # planted solutions have 3..7 steps
        assert r["first_error_step"] is None or 0 <= r["first_error_step"] < 7


def test_a_pool_size_samples_the_selection_pool_only(monkeypatch):
    """--pool-size: every arm of a seed chooses from the same seeded sample of the selection
    split, and the test split is untouched (fails if the sample were ignored, differed between
    arms, or were taken from the whole pool)."""
    data = planted_pool(problems=200)
    config = small_config(arms=("uniform", "oracle"), forms=("iterative",), seeds=2, rounds=2)
    config.pool_size = 30
    seen = []
    real_choose = arms.choose

    def spy(data, arm, head, available, n, seed, config):
        seen.append(set(available))
        return real_choose(data, arm, head, available, n, seed, config)

    monkeypatch.setattr(arms, "choose", spy)
    rows = arms.run({"s": data}, config, log=lambda m: None)
    samples = []
    for seed in (0, 1):
        split = design.split_problems(data.problems, seed, 0.3, 0.1)
        sample = set(design.sample_pool(split.pool, 30, seed))
        assert len(sample) == 30 and sample <= set(split.pool)
        assert sum(available == sample for available in seen) == 2  # each arm's seed batch
        samples.append(sample)
    assert all(any(available <= sample for sample in samples) for available in seen)
    assert design.sample_pool(split.pool, 30, 0) != design.sample_pool(split.pool, 30, 1)
    assert design.sample_pool(split.pool[:5], 30, 0) == sorted(split.pool[:5])
    assert [r["solutions"] for r in analysis.final_rows(rows)] == [30] * 4
