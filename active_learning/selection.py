"""Choosing the next generation (pure: no Django, no torch).

"Convincing wrong answers" (Lightman et al. 2023, section 4): per problem, the candidates the
current PRM scores highest, a share of them (80% in the paper) from solutions whose final answer
is graded wrong, the rest from the highest-scoring remaining ones. A candidate whose correctness
is unknown (no reference answer, or ungraded) is never counted as wrong. Picks are ordered
round-robin across problems (the best of every problem first), which is the serving priority;
ties are broken by a seeded shuffle, so a seed reproduces a selection exactly. `uniform` is the
baseline: a seeded random sample under the same caps.
"""

import random
from collections import defaultdict
from dataclasses import dataclass

STRATEGIES = ("convincing_wrong", "uniform")


@dataclass(frozen=True)
class Candidate:
    solution_id: int
    problem_id: int
    score: float | None  # the PRM's solution score; None = unscored (ranks last)
    is_correct: bool | None


def select(
    candidates: list[Candidate],
    *,
    batch_size: int,
    per_problem_cap: int = 4,
    wrong_share: float = 0.8,
    strategy: str = "convincing_wrong",
    seed: int = 0,
) -> list[Candidate]:
    """The next generation in serving order. Callers pass only candidates that are neither
    labeled nor queued."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}")
    if batch_size < 0 or per_problem_cap < 1 or not 0 <= wrong_share <= 1:
        raise ValueError("batch_size >= 0, per_problem_cap >= 1 and 0 <= wrong_share <= 1")
    rng = random.Random(seed)
    pool = sorted(candidates, key=lambda c: c.solution_id)
    rng.shuffle(pool)  # seeded tie-breaking; sorting below is stable
    by_problem: dict[int, list[Candidate]] = defaultdict(list)
    for candidate in pool:
        by_problem[candidate.problem_id].append(candidate)
    picks: dict[int, list[Candidate]] = {}
    for problem, group in by_problem.items():
        if strategy == "uniform":
            picks[problem] = group[:per_problem_cap]
            continue
        ranked = sorted(group, key=lambda c: -(c.score if c.score is not None else -1.0))
        wrong = [c for c in ranked if c.is_correct is False]
        others = [c for c in ranked if c.is_correct is not False]
        want_wrong = round(per_problem_cap * wrong_share)
        chosen = wrong[:want_wrong]
        chosen += others[: per_problem_cap - len(chosen)]
        if len(chosen) < per_problem_cap:  # too few others: more wrong ones
            chosen += wrong[want_wrong : want_wrong + per_problem_cap - len(chosen)]
        picks[problem] = sorted(chosen, key=lambda c: -(c.score if c.score is not None else -1.0))
    order = list(picks)
    if strategy == "convincing_wrong":
        order.sort(key=lambda p: -max((c.score or 0.0) for c in picks[p]))
    selected: list[Candidate] = []
    depth = 0
    while len(selected) < batch_size and any(depth < len(picks[p]) for p in order):
        for problem in order:
            if depth < len(picks[problem]) and len(selected) < batch_size:
                selected.append(picks[problem][depth])
        depth += 1
    return selected
