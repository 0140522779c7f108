"""The simulation's settings (`active_learning/simulation/config.py`): a bad option is refused
before anything is created, naming the option."""

import pytest

from active_learning.simulation.config import STRATEGIES, SimulationConfig, SimulationError


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"strategies": ("best",)}, "--strategy"),
        ({"strategies": ()}, "--strategy"),
        ({"rounds": 0}, "--rounds"),
        ({"batch": 0}, "--batch"),
        ({"annotators": 0}, "--annotators"),
        ({"held_out_share": 1.0}, "--held-out-share"),
        ({"held_out_share": 0}, "--held-out-share"),
        ({"seeds": ()}, "--seed"),
    ],
)
def test_a_bad_option_is_refused_naming_it(options, named):
    """Would catch a check dropped (a zero-round or all-held-out simulation would run for
    minutes and report nothing)."""
    with pytest.raises(SimulationError, match=named):
        SimulationConfig(**options)


def test_the_defaults_and_both_strategies_are_accepted():
    config = SimulationConfig(strategies=STRATEGIES, seeds=(0, 1))
    assert config.strategies == ("convincing_wrong", "uniform") and config.rounds == 6
