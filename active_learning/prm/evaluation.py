"""Metrics of a PRM (no Django, no torch).

- Step-level ROC AUC: how well the step score (P(not negative)) ranks good steps (positive or
  neutral) above bad (negative) ones; the Mann-Whitney statistic with ties counted half.
- ProcessBench first-error F1 (Zheng et al. 2024, "ProcessBench", section 3): the predicted
  first error is the first step whose score is below a threshold (none: -1). Accuracy on flawed
  solutions = share whose predicted index equals the labeled one; accuracy on correct
  solutions = share predicted -1; F1 = their harmonic mean. The threshold is chosen on a
  validation split to maximise F1 and reported with the test figure.
- Best-of-N against majority voting (Lightman et al. 2023, section 3): for problems with several
  graded candidates, the PRM picks its highest-scoring candidate; majority voting picks the most
  common final answer. Each is right when the picked answer is graded correct.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

THRESHOLD_GRID = tuple(round(t, 3) for t in np.linspace(0.02, 0.98, 49))


def roc_auc(good: Sequence[bool], scores: Sequence[float]) -> float | None:
    """P(score of a random good step > score of a random bad step), ties half; None when one
    class is missing."""
    good = np.asarray(good, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    n_good, n_bad = int(good.sum()), int((~good).sum())
    if n_good == 0 or n_bad == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks for ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(average, counts)
    return float((ranks[good].sum() - n_good * (n_good + 1) / 2) / (n_good * n_bad))


def predicted_first_error(step_scores: Sequence[float], threshold: float) -> int:
    for i, value in enumerate(step_scores):
        if value < threshold:
            return i
    return -1


@dataclass
class FirstErrorResult:
    f1: float | None
    error_accuracy: float | None
    correct_accuracy: float | None
    flawed: int
    correct: int
    threshold: float


def first_error_f1(
    labels: Sequence[int], step_scores: Sequence[Sequence[float]], threshold: float
) -> FirstErrorResult:
    hits_error = hits_correct = flawed = correct = 0
    for label, scores in zip(labels, step_scores, strict=True):
        predicted = predicted_first_error(scores, threshold)
        if label >= 0:
            flawed += 1
            hits_error += predicted == label
        else:
            correct += 1
            hits_correct += predicted == -1
    error_acc = hits_error / flawed if flawed else None
    correct_acc = hits_correct / correct if correct else None
    if error_acc is None or correct_acc is None or error_acc + correct_acc == 0:
        f1 = None if error_acc is None or correct_acc is None else 0.0
    else:
        f1 = 2 * error_acc * correct_acc / (error_acc + correct_acc)
    return FirstErrorResult(f1, error_acc, correct_acc, flawed, correct, threshold)


def choose_threshold(labels, step_scores, grid=THRESHOLD_GRID) -> float:
    best, best_f1 = grid[len(grid) // 2], -1.0
    for threshold in grid:
        f1 = first_error_f1(labels, step_scores, threshold).f1
        if f1 is not None and f1 > best_f1:
            best, best_f1 = threshold, f1
    return best


@dataclass
class BestOfN:
    problems: int
    prm_accuracy: float | None
    majority_accuracy: float | None
    mean_candidates: float | None


def best_of_n(candidates: Sequence[tuple]) -> BestOfN:
    """`candidates`: (problem key, answer, is_correct, PRM solution score). Only problems with at
    least two graded candidates count."""
    by_problem = defaultdict(list)
    for problem, answer, is_correct, solution_score in candidates:
        if is_correct is not None:
            by_problem[problem].append((answer, is_correct, solution_score))
    prm_right = majority_right = problems = sizes = 0
    for group in by_problem.values():
        if len(group) < 2:
            continue
        problems += 1
        sizes += len(group)
        best = max(group, key=lambda c: -1.0 if c[2] is None else c[2])
        prm_right += bool(best[1])
        votes = Counter(_normal(c[0]) for c in group)
        top_answer = max(votes, key=lambda a: (votes[a], a))
        majority_right += any(c[1] for c in group if _normal(c[0]) == top_answer)
    if not problems:
        return BestOfN(0, None, None, None)
    return BestOfN(problems, prm_right / problems, majority_right / problems, sizes / problems)


def _normal(answer) -> str:
    return "" if answer is None else " ".join(str(answer).split())
