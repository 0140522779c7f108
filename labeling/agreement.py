"""Inter-annotator agreement on step ratings (pure functions; numpy, no Django).

Data: a *unit* is one step position of one solution; a labeler's *value* for it is their rating
of the step's first completion (-1 < 0 < 1). Each function takes a `Ratings` table with at most
one value per (unit, labeler) and returns None where the statistic is undefined.

Definitions and sources:

- Krippendorff's alpha: K. Krippendorff, "Computing Krippendorff's Alpha-Reliability" (2011).
  From the coincidence matrix o_ck = sum_u (n_uc n_uk - [c=k] n_uc) / (m_u - 1) over units with
  m_u >= 2 values, n_c = sum_k o_ck, n = sum_c n_c:
  alpha = 1 - (n - 1) * sum_ck o_ck d2(c,k) / sum_ck n_c n_k d2(c,k).
  Nominal d2 = [c != k]; ordinal d2(c,k) = (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2.
  Undefined (None) when the expected disagreement is 0 (a single value used throughout).
- Percent agreement: over every pair of values given to the same unit, the share that are equal.
- Cohen's kappa (nominal): J. Cohen (1960). kappa = (p_o - p_e) / (1 - p_e) with p_o the share
  of shared units rated equally and p_e = sum_c p_a(c) p_b(c); None below 2 shared units or when
  p_e = 1.
- Fleiss' kappa: J. L. Fleiss (1971), over the units rated by exactly m labelers, m the most
  common number of labelers per unit (ties: the larger m). P_i = (sum_c n_ic^2 - m) / (m(m-1)),
  p_c = sum_i n_ic / (N m), kappa = (mean P_i - sum_c p_c^2) / (1 - sum_c p_c^2).
- First-error agreement: over every pair of labelings of the same solution, the share that put
  the first Negative step at the same index (or both have none).
"""

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

CATEGORIES = (-1, 0, 1)  # ordered: negative < neutral < positive


@dataclass(frozen=True)
class Ratings:
    """Parallel integer arrays: unit index, labeler index, value in CATEGORIES."""

    units: np.ndarray
    labelers: np.ndarray
    values: np.ndarray
    labeler_keys: tuple | None = None  # labeler index -> the caller's key (e.g. a UUID)

    @classmethod
    def from_triples(cls, triples: Iterable[tuple[Hashable, Hashable, int]]) -> "Ratings":
        """From (unit, labeler, value) triples with any hashable keys. A later triple for the
        same (unit, labeler) replaces an earlier one."""
        last: dict[tuple, int] = {}
        for unit, labeler, value in triples:
            if value not in CATEGORIES:
                raise ValueError(f"value {value!r} is not one of {CATEGORIES}")
            last[(unit, labeler)] = value
        unit_index: dict = {}
        labeler_index: dict = {}
        units, labelers, values = [], [], []
        for (unit, labeler), value in last.items():
            units.append(unit_index.setdefault(unit, len(unit_index)))
            labelers.append(labeler_index.setdefault(labeler, len(labeler_index)))
            values.append(value)
        return cls(
            np.asarray(units, dtype=np.int64),
            np.asarray(labelers, dtype=np.int64),
            np.asarray(values, dtype=np.int64),
            tuple(labeler_index),
        )

    def __len__(self) -> int:
        return len(self.values)


def unit_counts(ratings: Ratings) -> np.ndarray:
    """units x categories: how many labelers gave each value to each unit (row = unit index).
    The alpha, percent-agreement and Fleiss functions need only this; callers computing several
    of them, or them on groups of units, compute it once (`*_from_counts`)."""
    if len(ratings) == 0:
        return np.zeros((0, len(CATEGORIES)), dtype=np.int64)
    k = len(CATEGORIES)
    cells = ratings.units.astype(np.int64) * k + (ratings.values - CATEGORIES[0])
    units = int(ratings.units.max()) + 1
    return np.bincount(cells, minlength=units * k).reshape(units, k)


def _coincidences(counts: np.ndarray) -> np.ndarray:
    pairable = counts[counts.sum(axis=1) >= 2].astype(float)
    if len(pairable) == 0:
        return np.zeros((len(CATEGORIES), len(CATEGORIES)))
    weights = 1.0 / (pairable.sum(axis=1) - 1)
    weighted = pairable * weights[:, None]
    return weighted.T @ pairable - np.diag(weighted.sum(axis=0))


def _squared_distance(level: str, marginals: np.ndarray) -> np.ndarray:
    k = len(CATEGORIES)
    if level == "nominal":
        return 1.0 - np.eye(k)
    if level == "ordinal":
        distance = np.zeros((k, k))
        for c in range(k):
            for e in range(k):
                lo, hi = min(c, e), max(c, e)
                between = marginals[lo : hi + 1].sum() - (marginals[c] + marginals[e]) / 2
                distance[c, e] = between**2
        return distance
    raise ValueError(f"level must be 'nominal' or 'ordinal', not {level!r}")


def krippendorff_alpha(ratings: Ratings, level: str = "ordinal") -> float | None:
    return alpha_from_counts(unit_counts(ratings), level)


def alpha_from_counts(counts: np.ndarray, level: str = "ordinal") -> float | None:
    """Krippendorff's alpha from `unit_counts` (any subset of its rows: a group of units)."""
    coincidences = _coincidences(counts)
    marginals = coincidences.sum(axis=1)
    total = marginals.sum()
    if total <= 1:
        return None
    distance = _squared_distance(level, marginals)
    expected = (np.outer(marginals, marginals) * distance).sum()
    if expected == 0:
        return None
    observed = (coincidences * distance).sum()
    return float(1.0 - (total - 1) * observed / expected)


def percent_agreement(ratings: Ratings) -> float | None:
    return percent_agreement_from_counts(unit_counts(ratings))


def percent_agreement_from_counts(counts: np.ndarray) -> float | None:
    """Percent agreement from `unit_counts` (any subset of its rows)."""
    per_unit = counts.sum(axis=1)
    pairs = (per_unit * (per_unit - 1) // 2).sum()
    if pairs == 0:
        return None
    agreeing = (counts * (counts - 1) // 2).sum()
    return float(agreeing / pairs)


def cohen_kappa(a: Sequence[int], b: Sequence[int]) -> float | None:
    """Nominal Cohen's kappa of two labelers' values on the same units, in the same order."""
    if len(a) != len(b):
        raise ValueError("the two sequences must rate the same units")
    return _kappa_from_confusion(_confusion(np.asarray(a), np.asarray(b)))


def _confusion(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    k = len(CATEGORIES)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (a - CATEGORIES[0], b - CATEGORIES[0]), 1)
    return matrix


def _kappa_from_confusion(matrix: np.ndarray) -> float | None:
    n = matrix.sum()
    if n < 2:
        return None
    observed = np.trace(matrix) / n
    expected = float((matrix.sum(axis=1) / n) @ (matrix.sum(axis=0) / n))
    if abs(expected - 1.0) < 1e-12:  # (np.isclose costs more than the rest, per pair)
        return None
    return float((observed - expected) / (1 - expected))


@dataclass(frozen=True)
class PairKappa:
    labeler_a: Hashable
    labeler_b: Hashable
    kappa: float | None
    n: int


def pairwise_cohen_kappa(ratings: Ratings) -> list[PairKappa]:
    """Cohen's kappa for every pair of labelers who rated at least one unit in common
    (labelers named by `ratings.labeler_keys` when given)."""
    keys = ratings.labeler_keys
    if len(ratings) == 0:
        return []
    order = np.lexsort((ratings.labelers, ratings.units))
    units, labelers, values = (
        ratings.units[order],
        ratings.labelers[order],
        ratings.values[order] - CATEGORIES[0],
    )
    # Every pair of rows of the same unit: rows i and i + d for d = 1, 2, ... (sorted by unit).
    first_a, first_b, cell = [], [], []
    for d in range(1, len(units)):
        same = units[:-d] == units[d:]
        if not same.any():
            break
        i = np.nonzero(same)[0]
        first_a.append(labelers[i])
        first_b.append(labelers[i + d])
        cell.append(values[i] * len(CATEGORIES) + values[i + d])
    if not first_a:
        return []
    a, b, cell = np.concatenate(first_a), np.concatenate(first_b), np.concatenate(cell)
    # a < b always holds (rows of one unit are sorted by labeler, and values are unique per pair)
    labeler_count = int(ratings.labelers.max()) + 1
    cells = len(CATEGORIES) ** 2
    key = (a * labeler_count + b) * cells + cell
    uniq, tally = np.unique(key, return_counts=True)
    pair_key, cell_index = np.divmod(uniq, cells)
    result = []
    boundaries = np.nonzero(np.diff(pair_key))[0] + 1
    for start, stop in zip(
        np.concatenate(([0], boundaries)), np.concatenate((boundaries, [len(uniq)])), strict=True
    ):
        matrix = np.zeros(cells, dtype=np.int64)
        matrix[cell_index[start:stop]] = tally[start:stop]
        matrix = matrix.reshape(len(CATEGORIES), len(CATEGORIES))
        la, lb = divmod(int(pair_key[start]), labeler_count)
        result.append(
            PairKappa(
                keys[la] if keys is not None else la,
                keys[lb] if keys is not None else lb,
                _kappa_from_confusion(matrix),
                int(matrix.sum()),
            )
        )
    return result


def fleiss_kappa(ratings: Ratings) -> float | None:
    return fleiss_kappa_from_counts(unit_counts(ratings))


def fleiss_kappa_from_counts(counts: np.ndarray) -> float | None:
    """Fleiss' kappa from `unit_counts`."""
    per_unit = counts.sum(axis=1)
    rated = per_unit[per_unit >= 2]
    if len(rated) == 0:
        return None
    sizes, frequency = np.unique(rated, return_counts=True)
    m = int(sizes[frequency == frequency.max()].max())
    table = counts[per_unit == m].astype(float)
    if len(table) < 1:
        return None
    p_unit = ((table**2).sum(axis=1) - m) / (m * (m - 1))
    p_category = table.sum(axis=0) / (len(table) * m)
    expected = float((p_category**2).sum())
    if np.isclose(expected, 1.0):
        return None
    return float((p_unit.mean() - expected) / (1 - expected))


def first_error_agreement(first_errors_by_solution: Iterable[Sequence[int | None]]) -> float | None:
    """Share of pairs of labelings of one solution that agree on the first Negative index."""
    pairs = agreeing = 0
    for values in first_errors_by_solution:
        values = list(values)
        pairs += len(values) * (len(values) - 1) // 2
        # pairs that agree: within each group of equal values, every pair of its members
        agreeing += sum(c * (c - 1) // 2 for c in Counter(values).values())
    return agreeing / pairs if pairs else None


def first_error_agreement_arrays(solutions: np.ndarray, first_errors: np.ndarray) -> float | None:
    """`first_error_agreement` on parallel arrays, one entry per labeling: its solution and its
    first Negative index (-1: none). Same number, in vectorised time (a million ratings)."""
    solutions = np.asarray(solutions, dtype=np.int64)
    if len(solutions) == 0:
        return None
    _, solution_index = np.unique(solutions, return_inverse=True)
    per_solution = np.bincount(solution_index)
    pairs = int((per_solution * (per_solution - 1) // 2).sum())
    if pairs == 0:
        return None
    first = np.asarray(first_errors, dtype=np.int64) + 1  # >= 0
    _, same = np.unique(solution_index * (int(first.max()) + 1) + first, return_counts=True)
    return float((same * (same - 1) // 2).sum() / pairs)
