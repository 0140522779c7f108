"""The experiment's learner (`active_learning/experiments/learner.py`)."""

import numpy as np

from active_learning.experiments import learner


def test_labeled_steps_stop_at_the_first_error():
    feats = np.arange(10, dtype=np.float32).reshape(5, 2)
    x, y = learner.labeled_steps(feats, 2)
    assert x.shape == (3, 2) and y.tolist() == [1, 1, 0]
    x, y = learner.labeled_steps(feats, -1)
    assert y.tolist() == [1] * 5
    # a first error cut off by truncation (only 5 steps kept): the kept steps count as good
    assert learner.labeled_steps(feats, 9)[1].tolist() == [1] * 5
