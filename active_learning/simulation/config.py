"""The simulation's settings and their checks (`SimulationConfig`), its strategies and errors."""

from dataclasses import dataclass

from labeling.errors import ApplicationError

STRATEGIES = ("convincing_wrong", "uniform")  # the loop's strategies (models.Strategy)
COLD_START = "uniform"  # round 1: no model yet
MARKERS = ("<!-- simulation:begin -->", "<!-- simulation:end -->")


class SimulationError(ApplicationError):
    pass


@dataclass
class SimulationConfig:
    strategies: tuple[str, ...] = STRATEGIES
    rounds: int = 6
    batch: int = 50
    seeds: tuple[int, ...] = (0,)
    data: tuple[str, ...] = ()  # ProcessBench files; default: MATH and GSM8K in shared data
    held_out_share: float = 0.3
    pool_size: int | None = None  # a seeded sample of the pool, for quick runs
    per_problem_cap: int = 4
    wrong_share: float = 0.8
    annotators: int = 3
    backbone: str = ""
    keep_layers: int | None = 10
    max_length: int = 512
    epochs: int = 20
    train_batch_size: int = 16
    feature_cache: str | None = None  # path; None: no cache
    work_dir: str = ""
    label: str = ""  # project names: sim-<label>-<strategy>-s<seed>
    keep_checkpoints: bool = False  # False: only each project's last model keeps its folder

    def __post_init__(self):
        bad = [s for s in self.strategies if s not in STRATEGIES]
        if bad or not self.strategies:
            raise SimulationError(f"--strategy must be one of {', '.join(STRATEGIES)} or both")
        if self.rounds < 1 or self.batch < 1 or self.annotators < 1:
            raise SimulationError("--rounds, --batch and --annotators must be at least 1")
        if not 0 < self.held_out_share < 1:
            raise SimulationError("--held-out-share must be between 0 and 1")
        if not self.seeds:
            raise SimulationError("--seed: give at least one")
