"""The simulation's report (`active_learning/simulation/report.py`): curves, efficiency, the
paired gap, the command line, the Markdown block."""

from dataclasses import asdict

import pytest

from active_learning.simulation import report
from active_learning.simulation.config import MARKERS, SimulationConfig

pytestmark = pytest.mark.django_db


def test_labels_to_reach_and_efficiency_on_hand_made_curves():
    uniform = [(10, 0.5, 0, 1), (20, 0.6, 0, 1), (30, 0.7, 0, 1)]
    active = [(10, 0.5, 0, 1), (20, 0.7, 0, 1)]
    assert report.labels_to_reach(uniform, 0.65) == pytest.approx(25)
    assert report.labels_to_reach(uniform, 0.4) == 10
    assert report.labels_to_reach(uniform, 0.8) is None
    eff = report.efficiency(active, uniform)
    assert eff["ratio"] == pytest.approx(30 / 20)
    assert eff["converse_ratio"] == pytest.approx(30 / 20)
    worse = report.efficiency([(10, 0.5, 0, 1), (30, 0.55, 0, 1)], uniform)
    assert worse["ratio"] == pytest.approx(15 / 30)
    assert worse["active_labels_for_baseline_final"] is None


def test_paired_gap_and_command_line():
    rows = [
        {"seed": seed, "strategy": strategy, "round": n, "auc": value}
        for seed, strategy, n, value in [
            (0, "convincing_wrong", 1, 0.5),
            (0, "uniform", 1, 0.9),  # round 1 is left out
            (0, "convincing_wrong", 2, 0.7),
            (0, "uniform", 2, 0.6),
            (0, "convincing_wrong", 3, 0.7),
            (0, "uniform", 3, 0.8),
            (1, "convincing_wrong", 2, 0.6),
            (1, "uniform", 2, 0.5),
        ]
    ]
    gap = report.paired_gap(rows, "auc")
    assert gap["per_seed"] == pytest.approx([0.0, 0.1])
    assert (gap["seeds"], gap["ahead"]) == (2, 1)
    assert gap["mean"] == pytest.approx(0.05)
    config = asdict(SimulationConfig(rounds=3, batch=7, seeds=(1, 2), epochs=5))
    assert report.command_line(config) == (
        "python manage.py simulate_active_learning --smoke --strategy both --rounds 3 --batch 7 "
        "--seed 1 2 --epochs 5"
    )


def test_write_markdown_replaces_only_the_results_block(tmp_path):
    path = tmp_path / "page.md"
    path.write_text(
        "# Title\n\nintro\n\n<!-- simulation:begin -->\nold\n<!-- simulation:end -->\n\nreading\n"
    )
    block = "\n".join([MARKERS[0], "new", MARKERS[1]])
    report.write_markdown(path, block)
    text = path.read_text()
    assert "old" not in text and "new" in text
    assert text.startswith("# Title\n\nintro\n") and text.endswith("\nreading\n")
