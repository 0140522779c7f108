"""The experiment's plot (docs/active-learning-simulation.md): per pool and form, each arm's mean
step ROC AUC against labels with its 95% band across seeds."""

from collections import defaultdict
from pathlib import Path

import numpy as np

from active_learning.experiments import analysis, design

COLOURS = {
    "uniform": "tab:blue",
    "convincing_wrong": "tab:red",
    "wrong_random": "tab:orange",
    "oracle": "tab:green",
    "oracle_product": "tab:olive",
    "uniform_balanced": "tab:purple",
}
POOL_TITLES = {
    "processbench": "ProcessBench MATH (about one candidate per problem)",
    "prm800k": "PRM800K phase 1 (many candidates per problem)",
}


def band(rows, pool, form, arm, metric="step_auc"):
    """Per round: mean labels, mean metric, 95% t-interval low and high across seeds."""
    by = defaultdict(list)
    for r in rows:
        if r["pool"] == pool and r["form"] == form and r["arm"] == arm and r[metric] is not None:
            by[r["round"]].append(r)
    out = []
    for k in sorted(by):
        mean, low, high = analysis.t_interval([r[metric] for r in by[k]])
        out.append((float(np.mean([r["labels"] for r in by[k]])), mean, low, high))
    return out


def plot(rows: list[dict], path: Path, metric: str = "step_auc") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pools = sorted({r["pool"] for r in rows}, key=lambda p: p != "processbench")
    forms = [f for f in design.FORMS if any(r["form"] == f for r in rows)]
    fig, axes = plt.subplots(
        len(pools), len(forms), figsize=(6 * len(forms), 4 * len(pools)), squeeze=False
    )
    for i, pool in enumerate(pools):
        for j, form in enumerate(forms):
            ax = axes[i][j]
            for arm in sorted({r["arm"] for r in rows}, key=list(COLOURS).index):
                curve = band(rows, pool, form, arm, metric)
                if not curve:
                    continue
                x = [c[0] for c in curve]
                ax.plot(x, [c[1] for c in curve], marker="o", label=arm, color=COLOURS[arm])
                ax.fill_between(
                    x,
                    [c[2] for c in curve],
                    [c[3] for c in curve],
                    alpha=0.15,
                    color=COLOURS[arm],
                )
            ax.set_xscale("log")
            ax.set_xlabel("step labels spent (log scale)")
            ax.set_ylabel("held-out step ROC AUC")
            ax.set_title(f"{POOL_TITLES.get(pool, pool)}\n{form}", fontsize=9)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
