"""The experiment's statistics: per-seed paired differences with 95% t-intervals (at equal
solutions and at equal step labels), mean curves, the data-efficiency ratio, and the verdict
against the decision rule."""

import itertools
import math
from collections import defaultdict

import numpy as np

# -- statistics --------------------------------------------------------------------------------


def t_interval(values: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student t confidence interval of the mean (n >= 2)."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return mean, mean - half, mean + half


def final_rows(rows: list[dict]) -> list[dict]:
    last = max(r["round"] for r in rows)
    return [r for r in rows if r["round"] == last]


def paired(rows: list[dict], pool: str, form: str, a: str, b: str, metric: str) -> dict | None:
    """a minus b at the final budget, paired by seed: mean, 95% CI, seeds where a is ahead."""
    by = defaultdict(dict)
    for r in final_rows(rows):
        if r["pool"] == pool and r["form"] == form and r[metric] is not None:
            by[r["seed"]][r["arm"]] = r[metric]
    diffs = [v[a] - v[b] for v in by.values() if a in v and b in v]
    return _paired_summary(diffs, a, b, metric)


def _paired_summary(diffs: list[float], a: str, b: str, metric: str) -> dict | None:
    """The per-seed differences a minus b as `paired` reports them (mean, 95% t interval,
    seeds where a is ahead), or None under two seeds."""
    if len(diffs) < 2:
        return None
    mean, low, high = t_interval(diffs)
    return {
        "a": a,
        "b": b,
        "metric": metric,
        "mean": mean,
        "low": low,
        "high": high,
        "ahead": sum(d > 0 for d in diffs),
        "seeds": len(diffs),
    }


def paired_at_labels(rows: list[dict], pool: str, form: str, a: str, b: str) -> dict | None:
    """a minus b at a's final step-label count, paired by seed: b's step ROC AUC at that count
    is interpolated linearly in log labels between b's rounds of the same seed (the equal
    step-label comparison; the final budget is equal in solutions, and an arm that picks wrong
    answers spends fewer labels per solution). A seed where a's count lies outside b's curve is
    left out (no extrapolation). Same fields as `paired`."""
    curves = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["pool"] == pool and r["form"] == form and r["step_auc"] is not None:
            curves[r["seed"]][r["arm"]].append((r["round"], r["labels"], r["step_auc"]))
    diffs = []
    for arms in curves.values():
        if a not in arms or b not in arms:
            continue
        _, labels, quality = max(arms[a])
        base = sorted((lab, q) for _, lab, q in arms[b])
        if not base[0][0] <= labels <= base[-1][0]:
            continue
        x = np.log([lab for lab, _ in base])
        diffs.append(quality - float(np.interp(math.log(labels), x, [q for _, q in base])))
    return _paired_summary(diffs, a, b, "step_auc at equal step labels")


def mean_curve(rows, pool, form, arm, metric="step_auc") -> list[tuple[float, float]]:
    """(mean labels, mean metric) per round."""
    by = defaultdict(list)
    for r in rows:
        if r["pool"] == pool and r["form"] == form and r["arm"] == arm and r[metric] is not None:
            by[r["round"]].append((r["labels"], r[metric]))
    return [
        (float(np.mean([p[0] for p in by[k]])), float(np.mean([p[1] for p in by[k]])))
        for k in sorted(by)
    ]


def efficiency_by_interpolation(arm_curve, base_curve) -> float | None:
    """Labels the baseline needs to reach the arm's final quality (linear interpolation in log
    labels on the baseline's mean curve) over the labels the arm used. None when the baseline
    never reaches it within its curve (the ratio is then at least base_max / arm_labels)."""
    labels, quality = arm_curve[-1]
    for (l0, q0), (l1, q1) in itertools.pairwise(base_curve):
        if (q0 - quality) * (q1 - quality) <= 0 and q0 != q1:
            t = (quality - q0) / (q1 - q0)
            needed = math.exp(math.log(l0) + t * (math.log(l1) - math.log(l0)))
            return needed / labels
    if base_curve and base_curve[0][1] >= quality:
        return base_curve[0][0] / labels
    return None


def efficiency_by_slope(arm_curve, base_curve) -> float | None:
    """The paper's method: fit quality = a + b ln(labels) to each mean curve; the labels the
    baseline's line needs for the arm's fitted quality at its final budget, over that budget.
    None when the baseline's slope is not positive."""
    if len(arm_curve) < 2 or len(base_curve) < 2:
        return None
    b_arm, a_arm = np.polyfit(np.log([p[0] for p in arm_curve]), [p[1] for p in arm_curve], 1)
    b_base, a_base = np.polyfit(np.log([p[0] for p in base_curve]), [p[1] for p in base_curve], 1)
    if b_base <= 0:
        return None
    final = arm_curve[-1][0]
    target = a_arm + b_arm * math.log(final)
    return float(math.exp((target - a_base) / b_base) / final)


def verdict(rows: list[dict], pool="processbench", form="iterative") -> dict:
    """The decision rule (DECISION_RULE) applied to the primary comparison."""
    cw_u = paired(rows, pool, form, "convincing_wrong", "uniform", "step_auc")
    cw_wr = paired(rows, pool, form, "convincing_wrong", "wrong_random", "step_auc")
    or_u = paired(rows, pool, form, "oracle", "uniform", "step_auc")
    if or_u is None or cw_u is None or cw_wr is None:
        outcome = "not run"
    elif not or_u["low"] > 0:
        outcome = "inconclusive: the learner cannot use hard negatives (oracle not above uniform)"
    elif cw_u["low"] > 0 and cw_wr["low"] > 0:
        outcome = "effect exists here"
    else:
        outcome = "no effect shown"
    return {
        "outcome": outcome,
        "cw_minus_uniform": cw_u,
        "cw_minus_wrong_random": cw_wr,
        "oracle_minus_uniform": or_u,
    }
