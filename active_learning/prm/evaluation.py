"""Metrics of a PRM (no Django, no torch).

- Step-level ROC AUC: how well the step score (P(not negative)) ranks good steps (positive or
  neutral) above bad (negative) ones; the Mann-Whitney statistic with ties counted half.
- ProcessBench first-error F1 (Zheng et al. 2024, "ProcessBench", section 3): the predicted
  first error is the first step whose score is below a threshold (none: -1). Accuracy on flawed
  solutions = share whose predicted index equals the labeled one; accuracy on correct
  solutions = share predicted -1; F1 = their harmonic mean. The *standard protocol* for PRMs
  (ProcessBench's evaluation code: a step is an error when P(error) > 0.5, i.e. the argmax of
  a two-way head) is `STANDARD_THRESHOLD` = 0.5 on every solution; that is the figure
  comparable with published tables. A threshold tuned to maximise F1 on a validation split
  and reported on the other split is a second, clearly labeled figure.
- Baselines for the F1: `always_correct` (predict -1 everywhere: F1 = 0 whenever there are
  flawed solutions) and `random` (each of the n+1 answers -1, 0..n-1 equally likely; the
  expected accuracies are the means of 1/(n+1)).
- Best-of-N against majority voting (Lightman et al. 2023, section 3): for problems with several
  graded candidates, the PRM picks its highest-scoring candidate; majority voting picks the most
  common final answer, answers grouped by an equivalence (the grader's: `labeling.grading.
  answers_equivalent`, so `\\frac12` and `0.5` are one answer); a random pick is the baseline
  (expected accuracy = share of correct candidates) and any-correct (pass@N) the ceiling.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

THRESHOLD_GRID = tuple(round(t, 3) for t in np.linspace(0.02, 0.98, 49))
STANDARD_THRESHOLD = 0.5  # step score = P(not error) < 0.5  <=>  P(error) > 0.5


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
    threshold: float | None  # None for a baseline that uses none


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


def _f1(error_acc: float | None, correct_acc: float | None) -> float | None:
    if error_acc is None or correct_acc is None:
        return None
    if error_acc + correct_acc == 0:
        return 0.0
    return 2 * error_acc * correct_acc / (error_acc + correct_acc)


def baseline_always_correct(labels: Sequence[int]) -> FirstErrorResult:
    """Predict "no error" for every solution."""
    flawed = sum(label >= 0 for label in labels)
    correct = len(labels) - flawed
    error_acc = 0.0 if flawed else None
    correct_acc = 1.0 if correct else None
    return FirstErrorResult(
        _f1(error_acc, correct_acc), error_acc, correct_acc, flawed, correct, 1.0
    )


def baseline_random(labels: Sequence[int], step_counts: Sequence[int]) -> FirstErrorResult:
    """Expected figures of a uniform random guess among -1, 0, ..., n-1 (n = the solution's
    steps); F1 of the expected accuracies."""
    flawed = [1 / (n + 1) for label, n in zip(labels, step_counts, strict=True) if label >= 0]
    correct = [1 / (n + 1) for label, n in zip(labels, step_counts, strict=True) if label < 0]
    error_acc = sum(flawed) / len(flawed) if flawed else None
    correct_acc = sum(correct) / len(correct) if correct else None
    return FirstErrorResult(
        _f1(error_acc, correct_acc), error_acc, correct_acc, len(flawed), len(correct), None
    )


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
    random_accuracy: float | None = None  # expected accuracy of a random candidate
    any_correct: float | None = None  # pass@N: the ceiling of any selection
    grouping: str = "normalized text"


def _same_text(first, second) -> bool:
    return _normal(first) == _normal(second)


def group_answers(answers: Sequence, equivalent: Callable | None = None, key=None) -> list[int]:
    """A group index per answer: answers with equal `key` (default: the normalized text) are
    one group, then groups whose first answers are `equivalent` merge. None answers form one
    group of their own (no answer)."""
    key = key or _normal
    groups: list[list] = []  # [representative, key]
    index_of_key: dict = {}
    result = []
    for answer in answers:
        k = ("<none>",) if answer is None else key(str(answer))
        if k not in index_of_key:
            found = None
            if equivalent is not None and answer is not None:
                for i, (representative, _k) in enumerate(groups):
                    if representative is not None and equivalent(str(representative), str(answer)):
                        found = i
                        break
            if found is None:
                groups.append([answer, k])
                found = len(groups) - 1
            index_of_key[k] = found
        result.append(index_of_key[k])
    return result


def best_of_n(
    candidates: Sequence[tuple], equivalent: Callable | None = None, key: Callable | None = None
) -> BestOfN:
    """`candidates`: (problem key, answer, is_correct, PRM solution score). Only problems with at
    least two graded candidates count. Majority voting groups answers by `key` then
    `equivalent` (see `group_answers`; default: normalized text only); a tie between groups
    goes to the group met first."""
    by_problem = defaultdict(list)
    for problem, answer, is_correct, solution_score in candidates:
        if is_correct is not None:
            by_problem[problem].append((answer, is_correct, solution_score))
    prm_right = majority_right = problems = sizes = 0
    random_right = any_right = 0.0
    for group in by_problem.values():
        if len(group) < 2:
            continue
        problems += 1
        sizes += len(group)
        best = max(group, key=lambda c: -1.0 if c[2] is None else c[2])
        prm_right += bool(best[1])
        labels = group_answers([c[0] for c in group], equivalent, key)
        votes = Counter(label for label, c in zip(labels, group, strict=True) if c[0] is not None)
        if votes:
            top = max(votes, key=lambda g: (votes[g], -g))
            members = [c for label, c in zip(labels, group, strict=True) if label == top]
            # a group is right when its answer is graded correct (its members agree; if the
            # grader disagrees within a group, the majority of the group decides)
            majority_right += sum(bool(c[1]) for c in members) * 2 > len(members)
        random_right += sum(bool(c[1]) for c in group) / len(group)
        any_right += any(c[1] for c in group)
    if not problems:
        return BestOfN(0, None, None, None, grouping=_grouping(equivalent))
    return BestOfN(
        problems,
        prm_right / problems,
        majority_right / problems,
        sizes / problems,
        random_right / problems,
        any_right / problems,
        _grouping(equivalent),
    )


def _grouping(equivalent) -> str:
    if equivalent is None:
        return "normalized text"
    return f"{getattr(equivalent, '__module__', '')}.{getattr(equivalent, '__name__', '')}"


def _normal(answer) -> str:
    return "" if answer is None else " ".join(str(answer).split())
