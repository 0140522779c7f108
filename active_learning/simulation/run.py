"""One simulated run per strategy and seed (`run_strategy`: each round one turn of the real loop
in process, then the held-out evaluation and the annotators' labels) and the whole simulation
(`simulate`)."""

import json
import logging
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from active_learning import selection
from active_learning.loop import in_process
from active_learning.models import RunTrigger
from active_learning.services import evaluation
from active_learning.simulation.annotators import (
    Annotators,
    candidates,
    generation_publish,
    project_create,
)
from active_learning.simulation.config import COLD_START, SimulationConfig
from active_learning.simulation.data import Oracle, default_data, load_records, split
from active_learning.simulation.report import fmt
from labeling.models import (
    FinishReason,
    Generation,
    GenerationItem,
    Labeling,
    LabelingStatus,
    Project,
)

logger = logging.getLogger(__name__)


# --- one simulated run --------------------------------------------------------------------------


def _batch_stats(project: Project, generation: Generation) -> dict:
    items = list(
        GenerationItem.objects.filter(generation=generation).values_list(
            "solution__is_correct", flat=True
        )
    )
    found = Labeling.objects.filter(
        generation=generation,
        status=LabelingStatus.SUBMITTED,
        finish_reason=FinishReason.FOUND_ERROR,
    ).count()
    return {
        "batch_size": len(items),
        "batch_wrong_answer_share": (sum(c is False for c in items) / len(items))
        if items
        else None,
        "batch_found_error_share": found / len(items) if items else None,
    }


def run_strategy(
    config: SimulationConfig,
    strategy: str,
    seed: int,
    pool: list[dict],
    held_out_path: Path,
    oracle: Oracle,
    log: Callable[[str], None],
) -> list[dict]:
    """The loop for one strategy and seed; one result row per round."""
    name = f"sim-{config.label}-{strategy}-s{seed}"
    project = project_create(name, pool)
    annotators = Annotators(project, config.annotators, oracle)
    log(f"[{strategy} seed {seed}] project {name!r}: {len(pool)} pool solutions")
    common = {
        "simulation": True,
        "batch_size": config.batch,
        "per_problem_cap": config.per_problem_cap,
        "wrong_share": config.wrong_share,
    }
    picks = selection.select(
        candidates(project),
        batch_size=config.batch,
        per_problem_cap=config.per_problem_cap,
        strategy=COLD_START,
        seed=seed,
    )
    generation = generation_publish(
        project, picks, COLD_START, {**common, "round": 1, "seed": seed, "cold_start": True}
    )
    rows, previous = [], None
    for round_number in range(1, config.rounds + 1):
        started = time.monotonic()
        labeled_now = annotators.label_all()
        batch = _batch_stats(project, generation)
        # One turn of the real loop, in process: train on every label so far, score the
        # unlabeled pool, select and publish the next generation (active_learning/loop/).
        run = in_process.run_round(
            project,
            trigger=RunTrigger.SIMULATION,
            strategy=strategy,
            batch_size=config.batch,
            per_problem_cap=config.per_problem_cap,
            wrong_share=config.wrong_share,
            seed=seed * 1000 + round_number,
            training_mode="head",
            epochs=config.epochs,
            backbone=config.backbone or settings.PRM_BACKBONE,
            keep_layers=config.keep_layers,
            train={"max_length": config.max_length, "batch_size": config.train_batch_size},
        )
        version = run.model_version
        report = evaluation.processbench_evaluate(version=version, path=str(held_out_path))
        first_error = report["first_error"] or {}
        labels = Labeling.objects.filter(project=project, status=LabelingStatus.SUBMITTED).count()
        row = {
            "strategy": strategy,
            "seed": seed,
            "round": round_number,
            "labels": labels,
            "labeled_this_round": labeled_now,
            "generation": generation.number,
            "generation_strategy": generation.strategy,
            **batch,
            "run": run.pk,
            "model_version": version.pk,
            "train_examples": version.data_snapshot.get("train_examples"),
            "step_roc_auc": report["step_roc_auc"],
            "first_error_f1": first_error.get("f1"),
            "error_accuracy": first_error.get("error_accuracy"),
            "correct_accuracy": first_error.get("correct_accuracy"),
            "threshold": first_error.get("threshold"),
            "held_out_solutions": report["solutions"],
            "held_out_steps": report["steps"],
            "truncated": report["truncated"],
            "run_stage_seconds": run.stage_seconds,
        }
        if run.generation is None:
            log(f"[{strategy} seed {seed}] the pool is used up after round {round_number}")
        generation = run.generation
        if previous is not None and not config.keep_checkpoints:
            # each ~250 MB; its metrics and scores stay in the database
            shutil.rmtree(previous.checkpoint, ignore_errors=True)
        previous = version
        row["seconds"] = round(time.monotonic() - started, 1)
        rows.append(row)
        log(
            f"[{strategy} seed {seed}] round {round_number}: {labels} labels, "
            f"step ROC AUC {fmt(row['step_roc_auc'])}, first-error F1 "
            f"{fmt(row['first_error_f1'])}, batch wrong-answer share "
            f"{fmt(row['batch_wrong_answer_share'])}, {row['seconds']} s"
        )
        if generation is None:
            break
    return rows


def simulate(
    config: SimulationConfig,
    log: Callable[[str], None] = logger.info,
    partial: Callable[[dict], None] | None = None,
) -> dict:
    """Every strategy for every seed; returns the results (rows and the setup). `partial` gets
    the results so far after each seed (a long run leaves something behind)."""
    from active_learning.prm import features

    records = load_records(config.data or default_data())
    oracle = Oracle(records)
    work = Path(config.work_dir or Path(settings.VAR_DIR) / "simulation")
    work.mkdir(parents=True, exist_ok=True)
    config.label = config.label or timezone.now().strftime("%Y%m%d%H%M%S")
    cache = features.FeatureCache(config.feature_cache) if config.feature_cache else None
    rows, splits = [], {}
    started = time.monotonic()
    for seed in config.seeds:
        pool, held_out = split(records, config.held_out_share, seed, config.pool_size)
        pool_problems = {r["problem"] for r in pool}
        assert not pool_problems & {r["problem"] for r in held_out}
        held_out_path = work / f"held-out-{config.label}-s{seed}.json"
        held_out_path.write_text(json.dumps(held_out))
        splits[seed] = {
            "pool_solutions": len(pool),
            "pool_problems": len(pool_problems),
            "held_out_solutions": len(held_out),
            "held_out_problems": len({r["problem"] for r in held_out}),
            "held_out_file": str(held_out_path),
        }
        log(f"seed {seed}: pool {len(pool)} solutions, held out {len(held_out)}")
        for strategy in config.strategies:
            if cache is None:
                rows += run_strategy(config, strategy, seed, pool, held_out_path, oracle, log)
            else:
                with features.cached(cache):
                    rows += run_strategy(config, strategy, seed, pool, held_out_path, oracle, log)
                cache.save()
        if partial is not None:  # after each seed, so partial results compare like with like
            partial(_results(config, splits, rows, started, complete=False))
    return _results(config, splits, rows, started, complete=True)


def _results(config, splits, rows, started, complete: bool) -> dict:
    return {
        "complete": complete,
        "config": asdict(config),
        "splits": {str(k): v for k, v in splits.items()},
        "rows": list(rows),
        "machine": machine(),
        "seconds": round(time.monotonic() - started, 1),
        "finished_at": timezone.now().isoformat(timespec="seconds"),
    }


def machine() -> dict:
    import os

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }
