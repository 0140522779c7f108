"""The oracle (ProcessBench's expert labels as a labeler's draft) and the data: ProcessBench
records, split once per seed into a held-out share and the candidate pool."""

import hashlib
import json
from pathlib import Path

from django.conf import settings

from active_learning.simulation.config import SimulationError
from labeling.models import (
    FinishReason,
)

# --- the oracle ---------------------------------------------------------------------------------


def oracle_answer(label: int, step_count: int) -> tuple[list[dict], str]:
    """The draft `steps` and the finish reason an expert gives a ProcessBench solution."""
    if isinstance(label, bool) or not isinstance(label, int) or not -1 <= label < step_count:
        raise ValueError(f"label must be -1 or a step index below {step_count}, got {label!r}")
    if label == -1:
        return [{"rating": 1, "flagged": False}] * step_count, FinishReason.SOLUTION
    marks = [{"rating": 1, "flagged": False}] * label + [{"rating": -1, "flagged": False}]
    return marks, FinishReason.FOUND_ERROR


def _key(problem: str, steps: list[str]) -> str:
    return hashlib.sha256(json.dumps([problem.strip(), list(steps)]).encode()).hexdigest()


class Oracle:
    """Expert labels by what an annotator sees: the problem text and the steps."""

    def __init__(self, records: list[dict]):
        self.labels = {_key(r["problem"], r["steps"]): r["label"] for r in records}

    def answer(self, problem: str, steps: list[str]) -> tuple[list[dict], str]:
        label = self.labels.get(_key(problem, steps))
        if label is None:
            raise SimulationError("the oracle does not know a solution the API served")
        return oracle_answer(label, len(steps))


# --- data ---------------------------------------------------------------------------------------


def default_data() -> tuple[str, ...]:
    shared = Path(settings.SHARED_DATA_DIR)
    return (str(shared / "processbench_math.json"), str(shared / "processbench_gsm8k.json"))


def load_records(paths: tuple[str, ...]) -> list[dict]:
    from active_learning.prm.data import read_processbench, strip_suffix

    records = []
    for path in paths:
        try:
            rows = read_processbench(path)
        except (OSError, ValueError) as exc:
            raise SimulationError(f"{path}: cannot read ProcessBench records ({exc})") from None
        for i, row in enumerate(rows):
            try:
                steps, label = row["steps"], row["label"]
                oracle_answer(label, len(steps))
                if not isinstance(row["problem"], str) or not all(
                    isinstance(s, str) for s in steps
                ):
                    raise ValueError("problem and steps must be text")
            except (KeyError, TypeError, ValueError) as exc:
                raise SimulationError(f"{path}: record {i}: {exc}") from None
            records.append(
                {**row, "problem": strip_suffix(row["problem"]).strip(), "file": Path(path).name}
            )
    if not records:
        raise SimulationError("no ProcessBench records to simulate with")
    return records


def _unit(text: str) -> float:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def split(records: list[dict], held_out_share: float, seed: int, pool_size: int | None = None):
    """(pool, held out): whole problems go one way, by a seeded hash of the problem text."""
    pool, held_out = [], []
    for record in records:
        if _unit(f"held-out:{seed}:{record['problem']}") < held_out_share:
            held_out.append(record)
        else:
            pool.append(record)
    if pool_size is not None and pool_size < len(pool):
        pool = sorted(pool, key=lambda r: _unit(f"pool:{seed}:{r['problem']}:{r.get('id')}"))
        pool = pool[:pool_size]
    return pool, held_out
