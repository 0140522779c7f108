"""Selection of the next generation on hand-made scores.

Every share test names the share it expects; the comments say what the rule before issue 12
(per-problem quota, served round-robin) gave on the same input, so each test would have failed
on it."""

import random

import pytest

from active_learning.selection import Candidate, plan, select


def wrong_share(chosen):
    return sum(c.is_correct is False for c in chosen) / len(chosen)


def issue_pool(problems=100, per_problem=16, seed=0):
    """Issue 12's example: half of each problem's candidates graded wrong, and a PRM that works
    (correct answers score higher than wrong ones on average)."""
    rng = random.Random(seed)
    rows, next_id = [], 1
    for p in range(problems):
        for k in range(per_problem):
            wrong = k % 2 == 0
            score = rng.uniform(0.0, 0.7) if wrong else rng.uniform(0.3, 1.0)
            rows.append(Candidate(next_id, p, score, not wrong))
            next_id += 1
    return rows


@pytest.mark.parametrize("batch_size", [40, 100, 200, 400])
def test_issue_example_serves_80_percent_wrong_at_every_batch_size(batch_size):
    """Expected 80% at every size; the old rule served 0% / 0% / 50% / 75% on this pool (the
    issue measured 3% / 8% / 51% / 75% on its own)."""
    chosen = select(issue_pool(), batch_size=batch_size, per_problem_cap=4, wrong_share=0.8)
    assert len(chosen) == batch_size
    assert wrong_share(chosen) == pytest.approx(0.8, abs=0.5 / batch_size)
    counts = {}
    for c in chosen:
        counts[c.problem_id] = counts.get(c.problem_id, 0) + 1
    assert max(counts.values()) <= 4


def test_batch_smaller_than_problems_takes_the_highest_scoring_wrong_answers():
    """Batch 10 < 100 problems: 8 wrong (80%) and they are the 8 top-scoring wrong answers
    overall (old rule: one pick per problem, the problem's best = a correct answer: 0% wrong)."""
    pool = issue_pool()
    chosen = select(pool, batch_size=10, per_problem_cap=4, wrong_share=0.8)
    wrong = sorted((c for c in pool if c.is_correct is False), key=lambda c: -c.score)
    assert {c.solution_id for c in chosen if c.is_correct is False} == {
        c.solution_id for c in wrong[:8]
    }
    others = sorted((c for c in pool if c.is_correct is not False), key=lambda c: -c.score)
    assert {c.solution_id for c in chosen if c.is_correct} == {c.solution_id for c in others[:2]}


def test_every_prefix_of_the_serving_order_holds_the_share():
    """Annotators may label only the start: every prefix of k picks holds round(0.8 k) wrong
    (old rule: the first 100 picks were each problem's best, mostly correct)."""
    chosen = select(issue_pool(), batch_size=200, per_problem_cap=4, wrong_share=0.8)
    for k in range(1, len(chosen) + 1):
        served = sum(c.is_correct is False for c in chosen[:k])
        assert abs(served - 0.8 * k) <= 1


def test_one_candidate_per_problem_still_meets_the_share():
    """The demo/simulator shape: one candidate per problem. Expected 80% wrong at batch 10
    (old rule: 'top PRM score', correctness ignored, here 0% since correct ones score higher)."""
    rows = [Candidate(i, i, 0.5 + i / 100 if i % 2 else i / 100, bool(i % 2)) for i in range(40)]
    chosen = select(rows, batch_size=10, per_problem_cap=4, wrong_share=0.8)
    assert wrong_share(chosen) == 0.8
    top_wrong = sorted((c for c in rows if c.is_correct is False), key=lambda c: -c.score)[:8]
    assert set(top_wrong) <= set(chosen)


def test_no_wrong_answers_fills_with_others_and_reports_the_shortfall():
    """Expected 0% served against 80% asked, batch still full, shortfall 8 of 10."""
    rows = [Candidate(i, i % 5, i / 50, True) for i in range(50)]
    result = plan(rows, batch_size=10, per_problem_cap=4, wrong_share=0.8)
    assert len(result.picks) == 10
    assert result.wrong_share_served == 0 and result.wrong_shortfall == 8
    assert "SHORT by 8" in result.describe()
    assert result.summary()["wrong_share_asked"] == 0.8


def test_too_few_wrong_answers_serves_all_of_them():
    """3 wrong answers in the pool, 10 asked for 80%: all 3 served (30%), shortfall 5.
    (Old rule, one problem, cap 10: also 3 — but this pins the report.)"""
    rows = [Candidate(i, i, 0.9, i >= 3) for i in range(30)]
    result = plan(rows, batch_size=10, per_problem_cap=1, wrong_share=0.8)
    assert result.wrong_served == 3 and result.wrong_shortfall == 5
    assert result.wrong_share_served == pytest.approx(0.3)


def test_all_wrong_fills_the_rest_with_wrong_answers():
    """Expected 100% (no others exist) and no shortfall."""
    rows = [Candidate(i, i % 7, i / 70, False) for i in range(70)]
    result = plan(rows, batch_size=20, per_problem_cap=4, wrong_share=0.8)
    assert len(result.picks) == 20 and result.wrong_share_served == 1.0
    assert result.wrong_shortfall == 0


def test_ungraded_candidates_never_count_as_wrong():
    """Ungraded (None) candidates score highest but fill only the 20% of others: expected 80%
    graded-wrong (old rule on one problem per candidate: 0%, the top scores were ungraded)."""
    rows = [Candidate(i, i, 0.9 + i / 1000, None) for i in range(20)]
    rows += [Candidate(100 + i, 100 + i, 0.1 + i / 1000, False) for i in range(20)]
    chosen = select(rows, batch_size=10, per_problem_cap=4, wrong_share=0.8)
    assert sum(c.is_correct is False for c in chosen) == 8
    assert sum(c.is_correct is None for c in chosen) == 2
    result = plan([c for c in rows if c.is_correct is None], batch_size=5, wrong_share=0.8)
    assert result.wrong_served == 0 and result.wrong_available == 0


def test_ties_are_broken_by_the_seed_and_reproducible():
    """All scores tied: same seed, same picks and order; another seed, another order; the share
    is 80% either way (old rule: 3 of every problem's cap of 4, 75% here)."""
    rows = [Candidate(i, i % 20, 0.5, i % 4 == 0) for i in range(200)]  # 75% wrong
    a = select(rows, batch_size=20, seed=3)
    assert a == select(list(reversed(rows)), batch_size=20, seed=3)  # input order irrelevant
    assert a != select(rows, batch_size=20, seed=4)
    assert wrong_share(a) == 0.8


def test_per_problem_cap_binds_for_wrong_and_others_together():
    """One problem with many wrong answers: cap 2 lets 2 picks from it, wrong or not."""
    rows = [Candidate(i, 0, 0.99 - i / 100, False) for i in range(10)]
    rows += [Candidate(100 + i, 1 + i, 0.5, True) for i in range(10)]
    chosen = select(rows, batch_size=10, per_problem_cap=2, wrong_share=0.8)
    assert sum(c.problem_id == 0 for c in chosen) == 2
    assert len(chosen) == 10  # filled with others: 20% wrong, shortfall reported


def test_truncated_policy_last_exclude_ignore():
    """A truncated wrong answer with the top score: 'last' ranks it after whole-scored wrong
    answers, 'exclude' drops it, 'ignore' takes it first (old rule: always taken first)."""
    rows = [Candidate(1, 1, 0.99, False, truncated=True)]
    rows += [Candidate(10 + i, 10 + i, 0.5 + i / 100, False) for i in range(5)]
    rows += [Candidate(50 + i, 50 + i, 0.2, True) for i in range(5)]
    last = plan(rows, batch_size=5, wrong_share=0.8)
    assert 1 not in {c.solution_id for c in last.picks} and last.truncated_picked == 0
    assert "truncated policy: last" in last.describe()
    # when whole-scored wrong answers run out, a truncated one still beats a shortfall
    big = plan(rows, batch_size=10, wrong_share=0.8)
    assert 1 in {c.solution_id for c in big.picks} and big.truncated_picked == 1
    exclude = plan(rows, batch_size=10, wrong_share=0.8, truncated_policy="exclude")
    assert 1 not in {c.solution_id for c in exclude.picks} and exclude.truncated_excluded == 1
    ignore = plan(rows, batch_size=5, wrong_share=0.8, truncated_policy="ignore")
    assert ignore.picks[0].solution_id == 1
    assert "truncated policy: ignore" in ignore.describe()


def test_unscored_candidates_rank_last():
    rows = [Candidate(1, 1, None, False), Candidate(2, 2, 0.1, False), Candidate(3, 3, 0.2, True)]
    chosen = select(rows, batch_size=2, wrong_share=0.5)
    assert [c.solution_id for c in chosen] == [2, 3]


def test_wrong_random_matches_the_share_but_not_the_scores():
    """The control arm: 80% wrong like convincing_wrong, chosen at random (not the top)."""
    pool = issue_pool()
    a = plan(pool, batch_size=100, wrong_share=0.8, strategy="wrong_random", seed=1)
    b = plan(pool, batch_size=100, wrong_share=0.8, strategy="convincing_wrong", seed=1)
    assert a.wrong_share_served == b.wrong_share_served == 0.8
    assert {c.solution_id for c in a.picks} != {c.solution_id for c in b.picks}


def test_per_problem_variant_keeps_the_papers_rule():
    """allocation='per_problem' reproduces the old behaviour the docstring warns about:
    at batch 40 of the issue pool it is far below the asked share."""
    chosen = select(issue_pool(), batch_size=40, allocation="per_problem", wrong_share=0.8)
    assert wrong_share(chosen) < 0.2
    full = select(issue_pool(), batch_size=400, allocation="per_problem", wrong_share=0.8)
    assert wrong_share(full) == pytest.approx(0.75)  # round(4 * 0.8) = 3 of 4 per problem


def test_uniform_baseline_respects_the_cap_and_the_seed():
    rows = [Candidate(i, i % 7, 0.5, i % 3 == 0) for i in range(200)]
    uniform = select(rows, batch_size=20, strategy="uniform", seed=1, per_problem_cap=3)
    assert len(uniform) == 20 and uniform == select(
        rows, batch_size=20, strategy="uniform", seed=1, per_problem_cap=3
    )
    assert max(sum(c.problem_id == p for c in uniform) for p in range(7)) <= 3
    assert plan(rows, batch_size=5, strategy="uniform").wrong_share_asked is None


def test_bad_parameters():
    with pytest.raises(ValueError):
        select(issue_pool(2, 2), batch_size=5, strategy="best")
    with pytest.raises(ValueError):
        select(issue_pool(2, 2), batch_size=5, wrong_share=1.5)
    with pytest.raises(ValueError):
        select(issue_pool(2, 2), batch_size=5, allocation="problem")
    with pytest.raises(ValueError):
        select(issue_pool(2, 2), batch_size=5, truncated_policy="drop")
