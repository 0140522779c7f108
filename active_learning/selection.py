"""Choosing the next generation (pure: no Django, no torch).

"Convincing wrong answers" (Lightman et al. 2023, "Let's Verify Step by Step", section 4.1):
label the candidates the current PRM scores highest, a share of them (80% in the paper) from
solutions whose final answer is graded wrong, the rest from the highest-scoring others.

Allocation (`allocation`):

- ``"batch"`` (default): the share holds for the generation as a whole. About
  ``round(wrong_share * n)`` of the n picks are the highest-scoring graded-wrong candidates, the
  rest the highest-scoring others (graded correct, or ungraded); both walks respect
  `per_problem_cap` (wrong picks fill a problem's cap first). When the pool has too few wrong
  answers the batch is filled with others (and the reverse), and the `Selection` says how far the
  served share is from the asked one. Serving order interleaves the two lists so that every
  prefix of the generation holds the share to within one pick (annotators rarely finish a whole
  generation).
- ``"per_problem"``: the paper's literal rule, kept for comparison: per problem,
  ``round(per_problem_cap * wrong_share)`` wrong + the rest others, then served round-robin across
  problems (each problem's best first). The share only binds when the batch reaches every
  problem's full cap: at 100 problems x 16 candidates, cap 4, batch 40 it serves mostly the
  highest-scoring pick of each problem, which a working PRM makes a correct one (issue 12 measured
  3% wrong at batch 40). Use it only when batch_size >= problems x cap.

A candidate whose correctness is unknown (no reference answer, or ungraded) is never counted as
wrong. Truncated candidates (scored on a cut input, `truncated=True`): `truncated_policy`
``"last"`` (default) ranks them after every whole-scored candidate of the same kind, ``"exclude"``
drops them, ``"ignore"`` ranks them by score like the rest. Unscored candidates rank last.
Ties are broken by a seeded shuffle of the pool sorted by id, so a seed reproduces a selection
exactly.

Strategies: ``convincing_wrong`` (above); ``uniform``: a seeded random sample under the same cap
(the baseline; correctness and scores ignored); ``wrong_random``: the same wrong-answer share as
convincing_wrong, allocated the same way, but wrong and other picks chosen at random instead of
by score (the control for "more wrong answers" alone, used by the simulation).
"""

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field

STRATEGIES = ("convincing_wrong", "uniform", "wrong_random")
ALLOCATIONS = ("batch", "per_problem")
TRUNCATED_POLICIES = ("last", "exclude", "ignore")


@dataclass(frozen=True)
class Candidate:
    solution_id: int
    problem_id: int
    score: float | None  # the PRM's solution score; None = unscored (ranks last)
    is_correct: bool | None  # None: unknown (never counted wrong)
    truncated: bool = False  # the score was computed on a truncated input


@dataclass
class Selection:
    """A selection in serving order, and how its wrong-answer share compares with the ask."""

    picks: list[Candidate]
    strategy: str
    wrong_share_asked: float | None  # None for uniform (no share asked)
    wrong_available: int  # graded-wrong candidates in the (policy-filtered) pool
    truncated_excluded: int = 0
    truncated_picked: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def wrong_served(self) -> int:
        return sum(c.is_correct is False for c in self.picks)

    @property
    def wrong_share_served(self) -> float | None:
        return self.wrong_served / len(self.picks) if self.picks else None

    @property
    def wrong_wanted(self) -> int | None:
        """Wrong picks the ask means for the batch actually served."""
        if self.wrong_share_asked is None:
            return None
        return _round_half_up(self.wrong_share_asked * len(self.picks))

    @property
    def wrong_shortfall(self) -> int:
        """Wrong picks missing against the ask (0 when met or exceeded)."""
        wanted = self.wrong_wanted
        return max(0, wanted - self.wrong_served) if wanted is not None else 0

    def summary(self) -> dict:
        """JSON-able facts for the run log and the generation's params."""
        return {
            "wrong_share_asked": self.wrong_share_asked,
            "wrong_share_served": self.wrong_share_served,
            "wrong_served": self.wrong_served,
            "wrong_wanted": self.wrong_wanted,
            "wrong_shortfall": self.wrong_shortfall,
            "wrong_available": self.wrong_available,
            "truncated_excluded": self.truncated_excluded,
            "truncated_picked": self.truncated_picked,
        }

    def describe(self) -> str:
        """One line for the run log."""
        served = self.wrong_share_served
        text = f"{len(self.picks)} picked ({self.strategy}): {self.wrong_served} wrong answers"
        if served is not None:
            text += f" = {served:.0%} served"
        if self.wrong_share_asked is not None:
            text += f" against {self.wrong_share_asked:.0%} asked"
        if self.wrong_shortfall:
            text += (
                f"; SHORT by {self.wrong_shortfall} (only {self.wrong_available} graded-wrong "
                "candidates available under the cap): filled with others"
            )
        text += f"; truncated: {self.truncated_picked} picked, {self.truncated_excluded} excluded"
        for note in self.notes:
            text += f"; {note}"
        return text


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def select(candidates: list[Candidate], **kwargs) -> list[Candidate]:
    """The next generation in serving order (see `plan` for the parameters)."""
    return plan(candidates, **kwargs).picks


def plan(
    candidates: list[Candidate],
    *,
    batch_size: int,
    per_problem_cap: int = 4,
    wrong_share: float = 0.8,
    strategy: str = "convincing_wrong",
    seed: int = 0,
    allocation: str = "batch",
    truncated_policy: str = "last",
) -> Selection:
    """Choose up to `batch_size` candidates, at most `per_problem_cap` per problem.

    Callers pass only candidates that are neither labeled nor queued. Deterministic for a seed.
    Raises ValueError on an unknown strategy, allocation or truncated policy, batch_size < 0,
    per_problem_cap < 1 or wrong_share outside [0, 1]."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}")
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {ALLOCATIONS}")
    if truncated_policy not in TRUNCATED_POLICIES:
        raise ValueError(f"truncated_policy must be one of {TRUNCATED_POLICIES}")
    if batch_size < 0 or per_problem_cap < 1 or not 0 <= wrong_share <= 1:
        raise ValueError("batch_size >= 0, per_problem_cap >= 1 and 0 <= wrong_share <= 1")
    rng = random.Random(seed)
    pool = sorted(candidates, key=lambda c: c.solution_id)
    rng.shuffle(pool)  # seeded tie-breaking: sorts below are stable
    excluded = 0
    if truncated_policy == "exclude":
        excluded = sum(c.truncated for c in pool)
        pool = [c for c in pool if not c.truncated]
    wrong_available = sum(c.is_correct is False for c in pool)

    if strategy == "uniform":
        picks = _take(pool, batch_size, per_problem_cap, {})
        result = Selection(picks, strategy, None, wrong_available, excluded)
    elif allocation == "per_problem" and strategy == "convincing_wrong":
        picks = _per_problem(pool, batch_size, per_problem_cap, wrong_share, truncated_policy)
        result = Selection(picks, strategy, wrong_share, wrong_available, excluded)
    else:
        if strategy == "convincing_wrong":
            pool = sorted(pool, key=lambda c: _rank_key(c, truncated_policy))
        # wrong_random: the shuffled order is the random order
        wrong = [c for c in pool if c.is_correct is False]
        others = [c for c in pool if c.is_correct is not False]
        used: dict[int, int] = {}
        want = _round_half_up(wrong_share * batch_size)
        wrong_picks = _take(wrong, want, per_problem_cap, used)
        other_picks = _take(others, batch_size - len(wrong_picks), per_problem_cap, used)
        if len(wrong_picks) + len(other_picks) < batch_size:  # too few others: more wrong
            rest = [c for c in wrong if c not in set(wrong_picks)]
            wrong_picks += _take(
                rest, batch_size - len(wrong_picks) - len(other_picks), per_problem_cap, used
            )
        picks = _interleave(wrong_picks, other_picks, wrong_share)
        result = Selection(picks, strategy, wrong_share, wrong_available, excluded)
        if strategy == "wrong_random":
            result.notes.append("wrong and other picks drawn at random (control arm)")
    result.truncated_picked = sum(c.truncated for c in result.picks)
    if allocation == "per_problem" and strategy == "convincing_wrong":
        result.notes.append("per-problem allocation (the share binds only at full caps)")
    if strategy != "uniform":  # shown in the run log whatever it is
        result.notes.append(f"truncated policy: {truncated_policy}")
    return result


def _rank_key(c: Candidate, truncated_policy: str) -> tuple:
    """Highest score first; unscored last; truncated after whole-scored under policy 'last'."""
    late = c.truncated and truncated_policy == "last"
    return (late, c.score is None, -(c.score or 0.0))


def _take(ranked: list[Candidate], n: int, cap: int, used: dict[int, int]) -> list[Candidate]:
    """The first n of `ranked` whose problem is under `cap` (updating `used`)."""
    chosen = []
    for c in ranked:
        if len(chosen) >= n:
            break
        if used.get(c.problem_id, 0) < cap:
            used[c.problem_id] = used.get(c.problem_id, 0) + 1
            chosen.append(c)
    return chosen


def _interleave(wrong: list[Candidate], others: list[Candidate], share: float) -> list:
    """Serving order: at every prefix of length k, about round(share * k) wrong picks."""
    order, i, j = [], 0, 0
    while i < len(wrong) or j < len(others):
        k = len(order) + 1
        if j >= len(others) or (i < len(wrong) and i < _round_half_up(share * k)):
            order.append(wrong[i])
            i += 1
        else:
            order.append(others[j])
            j += 1
    return order


def _per_problem(
    pool: list[Candidate], batch_size: int, cap: int, share: float, truncated_policy: str
) -> list[Candidate]:
    """The paper's per-problem quota, served round-robin (best problem first)."""
    by_problem: dict[int, list[Candidate]] = defaultdict(list)
    for candidate in pool:
        by_problem[candidate.problem_id].append(candidate)
    picks: dict[int, list[Candidate]] = {}
    for problem, group in by_problem.items():
        ranked = sorted(group, key=lambda c: _rank_key(c, truncated_policy))
        wrong = [c for c in ranked if c.is_correct is False]
        others = [c for c in ranked if c.is_correct is not False]
        want_wrong = _round_half_up(cap * share)
        chosen = wrong[:want_wrong]
        chosen += others[: cap - len(chosen)]
        if len(chosen) < cap:  # too few others: more wrong ones
            chosen += wrong[want_wrong : want_wrong + cap - len(chosen)]
        picks[problem] = sorted(chosen, key=lambda c: _rank_key(c, truncated_policy))
    order = sorted(picks, key=lambda p: _rank_key(picks[p][0], truncated_policy))
    selected: list[Candidate] = []
    depth = 0
    while len(selected) < batch_size and any(depth < len(picks[p]) for p in order):
        for problem in order:
            if depth < len(picks[problem]) and len(selected) < batch_size:
                selected.append(picks[problem][depth])
        depth += 1
    return selected
