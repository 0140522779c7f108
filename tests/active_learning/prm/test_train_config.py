"""Training options and their checks (`active_learning/prm/train_config.py`)."""

import math

import pytest

from active_learning.prm.train_config import TrainConfig


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": -1e-4}, "learning_rate"),
        ({"learning_rate": math.nan}, "learning_rate"),
        ({"learning_rate": math.inf}, "learning_rate"),
        ({"head_learning_rate": 0.0}, "head_learning_rate"),
        ({"lora_alpha": 0}, "lora_alpha"),
        ({"patience": 0}, "patience"),
        ({"patience": -1}, "patience"),
        ({"evals_per_epoch": 0}, "evals_per_epoch"),
        ({"warmup_ratio": 1.5}, "warmup_ratio"),
        ({"weight_decay": -0.1}, "weight_decay"),
        ({"token_budget": 0}, "token_budget"),
        ({"token_budget": 100, "max_length": 512}, "token_budget"),
    ],
)
def test_hostile_training_options_are_refused_naming_the_field(options, field):
    """Would catch a learning rate of 0 read as "the mode's default" (the old `or`), a negative
    or NaN rate, or a patience below 1 reaching the trainer from `train_prm` (the loop's API
    refused them; the command did not)."""
    with pytest.raises(ValueError, match=field):
        TrainConfig(**options)


def test_the_learning_rate_applies_to_head_mode_unless_a_head_rate_is_given():
    """The loop settings' one learning rate is documented per mode, head included (empty: 1e-3);
    head mode used to train at 1e-3 whatever the setting said."""
    assert TrainConfig(mode="head").effective_learning_rate == 1e-3
    assert TrainConfig(mode="head", learning_rate=0.01).effective_learning_rate == 0.01
    both = TrainConfig(mode="head", learning_rate=0.01, head_learning_rate=0.05)
    assert both.effective_learning_rate == 0.05
    assert TrainConfig(mode="lora", head_learning_rate=0.05).effective_learning_rate == 2e-4
    assert TrainConfig(mode="full", learning_rate=3e-5).effective_learning_rate == 3e-5
