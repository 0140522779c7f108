"""The experiment's design (`active_learning/experiments/design.py`): the problem-level split."""

from active_learning.experiments import design


def test_the_split_is_by_problem_and_seeded():
    problems = [f"p{i // 3}" for i in range(300)]  # 3 solutions per problem
    split = design.split_problems(problems, 1, 0.3, 0.1)
    groups = [{problems[i] for i in part} for part in (split.pool, split.validation, split.test)]
    assert not (groups[0] & groups[1]) and not (groups[0] & groups[2]) and not groups[1] & groups[2]
    assert len(groups[2]) == 30 and len(groups[1]) == 10
    assert design.split_problems(problems, 1, 0.3, 0.1) == split
    assert design.split_problems(problems, 2, 0.3, 0.1).test != split.test
