"""Selection of the next generation on hand-made scores."""

import pytest

from active_learning.selection import Candidate, select


def candidates():
    rows = []
    # problem 1: high-scoring wrong answers (convincing) and right ones
    rows += [
        Candidate(1, 1, 0.95, False),
        Candidate(2, 1, 0.90, False),
        Candidate(3, 1, 0.85, True),
        Candidate(4, 1, 0.30, False),
        Candidate(5, 1, 0.99, True),
    ]
    # problem 2: no reference answer: unknown correctness never counts as wrong
    rows += [Candidate(6, 2, 0.97, None), Candidate(7, 2, 0.50, None)]
    # problem 3: only right answers
    rows += [Candidate(8, 3, 0.60, True), Candidate(9, 3, 0.70, True)]
    return rows


def test_convincing_wrong_answers_first_with_a_share_of_others():
    chosen = select(candidates(), batch_size=100, per_problem_cap=4, wrong_share=0.5)
    problem1 = [c.solution_id for c in chosen if c.problem_id == 1]
    # 2 wrong (the highest-scoring wrong ones) + 2 others (highest-scoring), by score
    assert sorted(problem1) == [1, 2, 3, 5]
    assert 4 not in problem1  # a low-scoring wrong answer is not convincing
    assert {c.solution_id for c in chosen if c.problem_id == 2} == {6, 7}


def test_eighty_percent_wrong_by_default():
    rows = [Candidate(i, 1, 1 - i / 100, None if i % 2 == 0 else False) for i in range(1, 40)]
    rows += [Candidate(100 + i, 1, 0.5, True) for i in range(10)]
    chosen = select(rows, batch_size=10, per_problem_cap=10)
    assert sum(c.is_correct is False for c in chosen) == 8


def test_round_robin_order_and_batch_size():
    chosen = select(candidates(), batch_size=3, per_problem_cap=4)
    assert len(chosen) == 3
    assert len({c.problem_id for c in chosen}) == 3  # one from each problem first
    assert chosen[0].problem_id == 1  # problem 1 has the highest-scoring pick


def test_per_problem_cap():
    chosen = select(candidates(), batch_size=100, per_problem_cap=1)
    assert len(chosen) == 3


def test_deterministic_for_a_seed_and_uniform_baseline():
    rows = [Candidate(i, i % 7, 0.5, i % 3 == 0) for i in range(200)]  # all tied
    assert select(rows, batch_size=20, seed=3) == select(rows, batch_size=20, seed=3)
    assert select(rows, batch_size=20, seed=3) != select(rows, batch_size=20, seed=4)
    uniform = select(rows, batch_size=20, strategy="uniform", seed=1)
    assert len(uniform) == 20 and uniform == select(rows, batch_size=20, strategy="uniform", seed=1)


def test_bad_parameters():
    with pytest.raises(ValueError):
        select(candidates(), batch_size=5, strategy="best")
    with pytest.raises(ValueError):
        select(candidates(), batch_size=5, wrong_share=1.5)
