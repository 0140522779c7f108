"""The experiment's plot (`active_learning/experiments/plots.py`): the band per round of one
arm, and the PNG."""

import math

import pytest

from active_learning.experiments.plots import band, plot


def _row(arm, seed, round_, labels, auc, pool="processbench", form="iterative"):
    return {
        "pool": pool,
        "form": form,
        "arm": arm,
        "seed": seed,
        "round": round_,
        "labels": labels,
        "step_auc": auc,
        "f1": 0.5,
        "solutions": 40 * (round_ + 1),
    }


def test_the_band_averages_one_arm_per_round_across_seeds():
    """Would catch rows of another arm, pool or form (or a missing value) pulled into an arm's
    curve, or rounds out of order."""
    rows = [
        _row("uniform", 0, 1, 120, 0.70),
        _row("uniform", 1, 1, 100, 0.60),
        _row("uniform", 0, 0, 50, 0.55),
        _row("uniform", 1, 0, 70, 0.65),
        _row("uniform", 2, 0, 60, None),  # no value: left out
        _row("oracle", 0, 0, 50, 0.99),
        _row("uniform", 0, 0, 50, 0.10, pool="prm800k"),
        _row("uniform", 0, 0, 50, 0.10, form="one_shot"),
    ]
    (labels0, mean0, low0, high0), (labels1, mean1, low1, high1) = band(
        rows, "processbench", "iterative", "uniform"
    )
    assert (labels0, labels1) == (60, 110)
    assert (mean0, mean1) == (pytest.approx(0.60), pytest.approx(0.65))
    assert low0 < mean0 < high0 and low1 < mean1 < high1
    assert band(rows, "processbench", "iterative", "wrong_random") == []


def test_one_seed_has_no_interval_and_the_plot_is_written(tmp_path):
    rows = [_row("uniform", 0, 0, 50, 0.6), _row("convincing_wrong", 0, 0, 50, 0.7)]
    ((_, mean, low, high),) = band(rows, "processbench", "iterative", "uniform")
    assert mean == 0.6 and math.isnan(low) and math.isnan(high)
    path = tmp_path / "plot.png"
    plot(rows, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
