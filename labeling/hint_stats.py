"""Does the PRM's hint bias the annotators? Hinted against unhinted tasks (issue 19,
docs/model-assisted.md), each number with a 95% confidence interval.

Per arm (`hinted`: a hint was shown; `unhinted`: the control share, served without one):

- `gold_first_error_match`: share of quality-control labelings whose first error equals the
  gold labeling's (`Labeling.gold_first_error_match`). Proportion, Wilson score interval.
- `gold_step_agreement`: mean step agreement with gold of those labelings
  (`Labeling.gold_agreement`). Mean, Student t interval.
- `prm_first_error_match`: share of labelings (ended `found_error` or `solution`) whose first
  error (first Negative, or none) equals the PRM's recorded one (`Labeling.hint_first_error`,
  -1: none). A hint that pulls people toward the model raises this in the hinted arm.
  Proportion, Wilson.
- `seconds_per_step`: labeling time (`total_time_ms`) over the steps rated, in seconds. Mean,
  Student t.
- `first_error_position`: 0-based step of the first Negative, over labelings that found one.
  Mean, Student t.

Intervals:
- Wilson score interval (E. B. Wilson, "Probable inference, the law of succession, and
  statistical inference", JASA 22, 1927; the form in Agresti & Coull, The American
  Statistician 52, 1998, eq. 2): center (k + z²/2)/(n + z²), half-width
  z/(n + z²) · sqrt(k(n-k)/n + z²/4).
- Student t interval for a mean: mean ± t(0.975, n-1) · s/√n, s the sample standard deviation
  (ddof 1); the t quantile by G. W. Hill, "Algorithm 396: Student's t-quantiles", CACM 13(10),
  1970 (within 2e-5 of the exact quantile at every n ≥ 1; checked against scipy in
  the tests). No interval for n < 2.

No Django here (an import-linter contract).
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

CONFIDENCE = 0.95
Z = NormalDist().inv_cdf(0.5 + CONFIDENCE / 2)  # 1.959963984540054
ARMS = ("hinted", "unhinted")


def wilson_interval(k: int, n: int, z: float = Z) -> tuple[float, float] | None:
    """The Wilson score interval (low, high) for k successes in n trials; None for n = 0.
    ValueError when not 0 <= k <= n."""
    if not 0 <= k <= n:
        raise ValueError(f"successes {k} not in [0, {n}]")
    if n == 0:
        return None
    z2 = z * z
    center = (k + z2 / 2) / (n + z2)
    half = z / (n + z2) * math.sqrt(k * (n - k) / n + z2 / 4)
    return max(0.0, center - half), min(1.0, center + half)


def t_quantile(p_two_sided: float, df: int) -> float:
    """t such that P(|T| > t) = p_two_sided for Student's t with `df` degrees of freedom
    (Hill 1970, Algorithm 396). ValueError for df < 1 or p outside (0, 1)."""
    if df < 1 or not 0.0 < p_two_sided < 1.0:
        raise ValueError(f"t quantile needs df >= 1 and 0 < p < 1, got df={df}, p={p_two_sided}")
    n, p = float(df), p_two_sided
    if df == 1:
        return math.cos(p * math.pi / 2) / math.sin(p * math.pi / 2)
    if df == 2:
        return math.sqrt(2.0 / (p * (2.0 - p)) - 2.0)
    a = 1.0 / (n - 0.5)
    b = 48.0 / (a * a)
    c = ((20700.0 * a / b - 98.0) * a - 16.0) * a + 96.36
    d = ((94.5 / (b + c) - 3.0) / b + 1.0) * math.sqrt(a * math.pi / 2.0) * n
    x = d * p
    y = x ** (2.0 / n)
    if y > 0.05 + a:
        x = NormalDist().inv_cdf(p * 0.5)
        y = x * x
        if df < 5:
            c += 0.3 * (n - 4.5) * (x + 0.6)
        c = (((0.05 * d * x - 5.0) * x - 7.0) * x - 2.0) * x + b + c
        y = (((((0.4 * y + 6.3) * y + 36.0) * y + 94.5) / c - y - 3.0) / b + 1.0) * x
        y = math.expm1(a * y * y)
    else:
        y = (
            (1.0 / (((n + 6.0) / (n * y) - 0.089 * d - 0.822) * (n + 2.0) * 3.0) + 0.5 / (n + 4.0))
            * y
            - 1.0
        ) * (n + 1.0) / (n + 2.0) + 1.0 / y
    return math.sqrt(n * y)


@dataclass(frozen=True)
class Estimate:
    """`value` (a share or a mean) of `n` observations, its interval [low, high] (None when
    n is too small) and which interval it is (`wilson` or `t`)."""

    n: int
    value: float | None
    low: float | None
    high: float | None
    interval: str

    def as_dict(self) -> dict:
        return {
            "n": self.n,
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "interval": self.interval,
        }


def proportion(flags: Iterable[bool]) -> Estimate:
    """The share of True in `flags` with its Wilson interval."""
    flags = list(flags)
    n, k = len(flags), sum(bool(f) for f in flags)
    bounds = wilson_interval(k, n)
    return Estimate(n, k / n if n else None, *(bounds or (None, None)), "wilson")


def mean(values: Iterable[float]) -> Estimate:
    """The mean of `values` with its Student t interval (none for fewer than 2 values)."""
    values = [float(v) for v in values]
    n = len(values)
    if n == 0:
        return Estimate(0, None, None, None, "t")
    m = math.fsum(values) / n
    if n < 2:
        return Estimate(n, m, None, None, "t")
    s = math.sqrt(math.fsum((v - m) ** 2 for v in values) / (n - 1))
    half = t_quantile(1.0 - CONFIDENCE, n - 1) * s / math.sqrt(n)
    return Estimate(n, m, m - half, m + half, "t")


@dataclass(frozen=True)
class HintedLabeling:
    """What the bias statistics read of one submitted labeling: its arm, whether it ended
    `found_error`/`solution` (`ended`), its first-completion ratings per step (None: not
    rated), the PRM's recorded first error (-1: none), time in ms, and for quality-control
    labelings the gold scores (None otherwise)."""

    arm: str
    ended: bool
    ratings: Sequence[int | None]
    prm_first_error: int | None
    total_time_ms: int | None
    gold_agreement: float | None = None
    gold_first_error_match: bool | None = None


def _human_first_error(ratings: Sequence[int | None]) -> int:
    return next((i for i, r in enumerate(ratings) if r == -1), -1)


def bias_statistics(labelings: Iterable[HintedLabeling]) -> dict:
    """`{arm: {metric: Estimate.as_dict()}}` for arms `hinted` and `unhinted` (the metrics of
    the module docstring). Labelings of another arm are ignored."""
    by_arm: dict[str, list[HintedLabeling]] = {arm: [] for arm in ARMS}
    for labeling in labelings:
        if labeling.arm in by_arm:
            by_arm[labeling.arm].append(labeling)
    result = {}
    for arm, rows in by_arm.items():
        qc = [r for r in rows if r.gold_first_error_match is not None]
        ended = [r for r in rows if r.ended and r.prm_first_error is not None]
        timed = [
            (r.total_time_ms, sum(x is not None for x in r.ratings))
            for r in rows
            if r.total_time_ms is not None
        ]
        found = [_human_first_error(r.ratings) for r in rows if r.ended]
        result[arm] = {
            "labelings": len(rows),
            "gold_first_error_match": proportion(r.gold_first_error_match for r in qc).as_dict(),
            "gold_step_agreement": mean(
                r.gold_agreement for r in qc if r.gold_agreement is not None
            ).as_dict(),
            "prm_first_error_match": proportion(
                _human_first_error(r.ratings) == r.prm_first_error for r in ended
            ).as_dict(),
            "seconds_per_step": mean(ms / 1000 / steps for ms, steps in timed if steps).as_dict(),
            "first_error_position": mean(f for f in found if f >= 0).as_dict(),
        }
    return result
