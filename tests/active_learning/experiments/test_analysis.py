"""The experiment's statistics (`active_learning/experiments/analysis.py`): paired differences,
t-intervals, efficiency, the verdict."""

import math

import numpy as np
import pytest
from scipy import stats

from active_learning.experiments import analysis


def test_paired_at_equal_step_labels_interpolates_the_baseline_per_seed():
    """Seed 0: uniform 0.60 at 100 labels, 0.70 at 400; the arm reaches 0.68 at 200 labels.
    Uniform at 200 (linear in log labels) = 0.65: +0.03. Seed 1: +0.01 the same way. Seed 2:
    the arm's labels lie beyond uniform's curve, left out (no extrapolation)."""
    rows = []

    def add(seed, arm, rnd, labels, auc):
        rows.append(
            {
                "pool": "p",
                "form": "iterative",
                "arm": arm,
                "seed": seed,
                "round": rnd,
                "labels": labels,
                "step_auc": auc,
            }
        )

    for seed, arm_auc in ((0, 0.68), (1, 0.66)):
        add(seed, "uniform", 0, 100, 0.60)
        add(seed, "uniform", 1, 400, 0.70)
        add(seed, "oracle", 0, 100, 0.60)
        add(seed, "oracle", 1, 200, arm_auc)
    add(2, "uniform", 0, 100, 0.6)
    add(2, "uniform", 1, 150, 0.62)
    add(2, "oracle", 1, 200, 0.9)
    gap = analysis.paired_at_labels(rows, "p", "iterative", "oracle", "uniform")
    assert gap["seeds"] == 2 and gap["ahead"] == 2
    assert gap["mean"] == pytest.approx(0.02)


def test_t_interval_matches_scipy():
    diffs = [0.03, -0.01, 0.02, 0.05, 0.0, 0.04, 0.01]
    mean, low, high = analysis.t_interval(diffs)
    ci = stats.ttest_1samp(diffs, 0.0).confidence_interval(0.95)
    assert mean == pytest.approx(np.mean(diffs))
    assert (low, high) == pytest.approx((ci.low, ci.high))


def test_paired_differences_are_per_seed():
    rows = []
    for seed, (a, b) in enumerate([(0.7, 0.6), (0.65, 0.66), (0.8, 0.7)]):
        for arm, auc in (("convincing_wrong", a), ("uniform", b)):
            rows.append(
                {
                    "pool": "p",
                    "form": "iterative",
                    "arm": arm,
                    "seed": seed,
                    "round": 1,
                    "step_auc": auc,
                }
            )
    gap = analysis.paired(rows, "p", "iterative", "convincing_wrong", "uniform", "step_auc")
    diffs = [0.1, -0.01, 0.1]
    ci = stats.ttest_rel([0.7, 0.65, 0.8], [0.6, 0.66, 0.7]).confidence_interval(0.95)
    assert gap["mean"] == pytest.approx(np.mean(diffs))
    assert (gap["low"], gap["high"]) == pytest.approx((ci.low, ci.high))
    assert gap["ahead"] == 2 and gap["seeds"] == 3


def test_efficiency_ratios_on_hand_made_curves():
    """Uniform: q = 0.5 + 0.1 ln L. The arm reaches at L what uniform reaches at 2L: ratio 2."""
    base = [(L, 0.5 + 0.1 * math.log(L)) for L in (100, 200, 400, 800, 1600)]
    arm = [(L, 0.5 + 0.1 * math.log(2 * L)) for L in (100, 200, 400)]
    assert analysis.efficiency_by_interpolation(arm, base) == pytest.approx(2.0)
    assert analysis.efficiency_by_slope(arm, base) == pytest.approx(2.0)
    # never reached by uniform within its curve: None, not a made-up number
    better = [(100, 2.0)]
    assert analysis.efficiency_by_interpolation(better, base) is None
    flat = [(L, 0.6) for L in (100, 200)]
    assert analysis.efficiency_by_slope(arm, flat) is None


def _verdict_rows(cw, wr, oracle):
    rows = []
    for seed in range(5):
        jitter = (seed - 2) * 0.002
        for arm, auc in (
            ("uniform", 0.7),
            ("convincing_wrong", 0.7 + cw + jitter),
            ("wrong_random", 0.7 + wr + jitter),
            ("oracle", 0.7 + oracle + jitter),
        ):
            rows.append(
                {
                    "pool": "processbench",
                    "form": "iterative",
                    "arm": arm,
                    "seed": seed,
                    "round": 2,
                    "step_auc": auc,
                }
            )
    return rows


def test_the_decision_rule():
    assert analysis.verdict(_verdict_rows(0.03, 0.01, 0.05))["outcome"] == "effect exists here"
    # beats uniform but not the random-wrong control: no effect of *convincing* answers shown
    assert analysis.verdict(_verdict_rows(0.03, 0.03, 0.05))["outcome"] == "no effect shown"
    # the oracle cannot beat uniform: the learner cannot use hard negatives
    assert analysis.verdict(_verdict_rows(0.03, 0.0, 0.0))["outcome"].startswith("inconclusive")
