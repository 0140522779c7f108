"""Simulating the active-learning loop, for researchers deciding whether active selection pays.

Simulated annotators label through the real labeling API (next task, open, draft, submit) from
an oracle: ProcessBench's expert labels (`label` = index of the first wrong step, -1 if none).
Steps before `label` are Positive, the step at `label` Negative and the rest unrated
(`found_error`); `label` -1 rates every step Positive (`solution`).

ProcessBench problems are split once per seed: a held-out share never enters the pool and
evaluates every round's PRM (step ROC AUC and first-error F1, `services.processbench_evaluate`);
the rest are the candidate pool of a fresh project per strategy. Round 1 labels a seeded uniform
batch (no model exists yet; the same solutions for every strategy). Every round then runs one
turn of the real loop in process (`pipeline.run_round`: train a PRM on all labels so far, score
the unlabeled pool, select the next batch with the strategy and publish it as a new generation),
evaluates the new model on the held-out problems, and the annotators label the new generation.
The last round's generation is published but not labeled.
"""

import hashlib
import json
import logging
import platform
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.urls import reverse
from django.utils import timezone

from active_learning import pipeline, selection, services
from active_learning.models import LoopSettings, RunTrigger
from labeling.answers import final_answer
from labeling.errors import ApplicationError
from labeling.models import (
    FinishReason,
    Generation,
    GenerationItem,
    Labeling,
    LabelingStatus,
    Problem,
    Project,
    Role,
    Solution,
)
from labeling.services.prm800k import sha256, steps_hash
from labeling.services.users import user_create

logger = logging.getLogger(__name__)

STRATEGIES = selection.STRATEGIES
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


# --- the platform side --------------------------------------------------------------------------


def project_create(name: str, pool: list[dict]) -> Project:
    """A fresh project with the pool as candidate solutions (in no generation yet)."""
    if Project.objects.filter(name=name).exists():
        raise SimulationError(f"project {name!r} already exists; pick another --label")
    with transaction.atomic():
        project = Project.objects.create(
            name=name,
            description="Active-learning simulation (simulate_active_learning).",
            overlap=1,
            qc_rate=0.0,
        )
        problems = {}
        for record in pool:
            if record["problem"] not in problems:
                problems[record["problem"]] = Problem(
                    project=project, text=record["problem"], text_hash=sha256(record["problem"])
                )
        Problem.objects.bulk_create(problems.values())
        solutions, seen = [], set()
        for record in pool:
            digest = steps_hash(record["steps"])
            if (record["problem"], digest) in seen:
                continue
            seen.add((record["problem"], digest))
            solutions.append(
                Solution(
                    project=project,
                    problem=problems[record["problem"]],
                    steps=record["steps"],
                    steps_hash=digest,
                    final_answer=final_answer(record["steps"]),
                    generator=record.get("generator") or "",
                    source="processbench",
                    external_id=f"{record['file']}:{record.get('id', '')}",
                    is_correct=record.get("final_answer_correct"),
                )
            )
        Solution.objects.bulk_create(solutions)
        # The simulation runs the rounds itself: no label-count or scheduled trigger.
        LoopSettings.objects.create(project=project, retrain_every=0, schedule_enabled=False)
    return project


def candidates(project: Project) -> list[selection.Candidate]:
    """Pool solutions neither labeled nor queued, with the current model's score."""
    queued = GenerationItem.objects.filter(solution=OuterRef("pk"))
    labeled = Labeling.objects.filter(solution=OuterRef("pk")).exclude(
        status=LabelingStatus.ABANDONED
    )
    rows = (
        Solution.objects.filter(project=project)
        .filter(~Exists(queued), ~Exists(labeled))
        .values_list("pk", "problem_id", "prm_score", "is_correct")
    )
    return [
        selection.Candidate(pk, problem, score, correct) for pk, problem, score, correct in rows
    ]


def generation_publish(
    project: Project, picks: list[selection.Candidate], strategy: str, params: dict
) -> Generation:
    """A new generation with the picks in serving order (rank 1 first)."""
    with transaction.atomic():
        top = Generation.objects.filter(project=project).aggregate(top=Max("number"))["top"]
        generation = Generation.objects.create(
            project=project,
            number=max(0, (top if top is not None else -1) + 1),
            strategy=strategy,
            params=params,
        )
        GenerationItem.objects.bulk_create(
            GenerationItem(generation=generation, solution_id=c.solution_id, rank=i, score=c.score)
            for i, c in enumerate(picks, start=1)
        )
    return generation


class Annotators:
    """Simulated annotators: users with API tokens who label through the REST API."""

    def __init__(self, project: Project, count: int, oracle: Oracle):
        from rest_framework.test import APIClient

        self.project, self.oracle = project, oracle
        host = next(
            (h for h in settings.ALLOWED_HOSTS if h not in ("*",) and not h.startswith(".")),
            "localhost",
        )
        self.clients = []
        for i in range(count):
            user, token = user_create(
                username=f"sim{project.pk}-annotator{i + 1}", role=Role.ANNOTATOR, project=project
            )
            client = APIClient(HTTP_HOST=host)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
            self.clients.append((user, client))

    def _call(self, client, method: str, url: str, data=None, expect=(200,)):
        # as a deployed client calls it: over HTTPS, with its token
        response = getattr(client, method)(url, data, format="json", secure=True)
        if response.status_code not in expect:
            body = getattr(response, "data", None) or response.content[:500]
            raise SimulationError(f"{method.upper()} {url}: HTTP {response.status_code} {body}")
        return response

    def label_all(self) -> int:
        """Annotators take turns asking for the next task until none is left; returns how many
        labelings they submitted."""
        submitted = 0
        active = list(self.clients)
        while active:
            for user, client in list(active):
                response = self._call(
                    client,
                    "post",
                    reverse("api-assignment-next"),
                    {"project": self.project.pk},
                    expect=(200, 204),
                )
                if response.status_code == 204:
                    active.remove((user, client))
                    continue
                task = response.data["id"]
                detail = self._call(client, "get", reverse("api-assignment-detail", args=[task]))
                marks, finish = self.oracle.answer(
                    detail.data["problem"]["text"], detail.data["steps"]
                )
                spent = 20000 * len(marks)  # a nominal 20 s per rated step
                self._call(
                    client,
                    "put",
                    reverse("api-assignment-draft", args=[task]),
                    {"steps": marks, "total_time_ms": spent},
                )
                self._call(
                    client,
                    "post",
                    reverse("api-assignment-submit", args=[task]),
                    {"finish_reason": finish, "total_time_ms": spent},
                )
                submitted += 1
        return submitted


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
        # unlabeled pool, select and publish the next generation (active_learning.pipeline).
        run = pipeline.run_round(
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
        report = services.processbench_evaluate(version=version, path=str(held_out_path))
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
            f"step ROC AUC {_fmt(row['step_roc_auc'])}, first-error F1 "
            f"{_fmt(row['first_error_f1'])}, batch wrong-answer share "
            f"{_fmt(row['batch_wrong_answer_share'])}, {row['seconds']} s"
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


# --- reporting ----------------------------------------------------------------------------------

METRICS = (("step_roc_auc", "step ROC AUC"), ("first_error_f1", "first-error F1"))


def _fmt(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def curves(rows: list[dict], metric: str) -> dict[str, list[tuple[float, float, float, int]]]:
    """Per strategy: (mean labels, mean value, standard deviation, seeds) per round."""
    out: dict[str, list] = {}
    for strategy in dict.fromkeys(r["strategy"] for r in rows):
        points = []
        for round_number in sorted({r["round"] for r in rows if r["strategy"] == strategy}):
            same = [r for r in rows if r["strategy"] == strategy and r["round"] == round_number]
            values = [r[metric] for r in same if r[metric] is not None]
            if not values:
                continue
            labels = statistics.fmean(r["labels"] for r in same)
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            points.append((labels, statistics.fmean(values), spread, len(values)))
        out[strategy] = points
    return out


def labels_to_reach(curve: list[tuple], target: float) -> float | None:
    """Labels at which a curve first reaches `target`, interpolated linearly between rounds;
    None when it never does."""
    previous = None
    for labels, value, *_ in curve:
        if value >= target:
            if previous is None or previous[1] >= target:
                return labels
            (l0, v0), (l1, v1) = previous, (labels, value)
            return l0 + (l1 - l0) * (target - v0) / (v1 - v0)
        previous = (labels, value)
    return None


def efficiency(active: list[tuple], baseline: list[tuple]) -> dict:
    """How many labels the baseline needs to match the active strategy's final quality, as a
    ratio to the labels active selection used (> 1: active selection saved labels); and the
    converse."""
    result = {}
    if active and baseline:
        final_labels, final_value = active[-1][0], active[-1][1]
        needed = labels_to_reach(baseline, final_value)
        result["baseline_labels_for_active_final"] = needed
        result["ratio"] = needed / final_labels if needed is not None else None
        result["baseline_never_reaches"] = needed is None
        result["baseline_max_labels"] = baseline[-1][0]
        result["active_final_labels"] = final_labels
        base_labels, base_value = baseline[-1][0], baseline[-1][1]
        needed_active = labels_to_reach(active, base_value)
        result["active_labels_for_baseline_final"] = needed_active
        result["converse_ratio"] = base_labels / needed_active if needed_active else None
    return result


def command_line(config: dict) -> str:
    """The command that reproduces a results file's simulation (its non-default options)."""
    defaults = asdict(SimulationConfig())
    strategies = config["strategies"]
    parts = [
        "python manage.py simulate_active_learning",
        "--strategy " + ("both" if set(strategies) == set(STRATEGIES) else strategies[0]),
        f"--rounds {config['rounds']}",
        f"--batch {config['batch']}",
        "--seed " + " ".join(map(str, config["seeds"])),
    ]
    options = {
        "held_out_share": "--held-out-share",
        "pool_size": "--pool-size",
        "per_problem_cap": "--per-problem-cap",
        "wrong_share": "--wrong-share",
        "annotators": "--annotators",
        "keep_layers": "--keep-layers",
        "max_length": "--max-length",
        "epochs": "--epochs",
    }
    for key, flag in options.items():
        if config.get(key) != defaults[key]:
            parts.append(f"{flag} {config.get(key)}")
    if config.get("label"):
        parts.append(f"--label {config['label']}")
    return " ".join(parts)


def paired_gap(rows: list[dict], metric: str, active="convincing_wrong", baseline="uniform"):
    """Per seed, the mean over rounds >= 2 of (active - baseline); then their mean, standard
    deviation and how many seeds favour the active strategy."""
    per_seed = []
    for seed in sorted({r["seed"] for r in rows}):
        values = {
            (r["strategy"], r["round"]): r[metric]
            for r in rows
            if r["seed"] == seed and r[metric] is not None
        }
        gaps = [
            values[(active, n)] - values[(baseline, n)]
            for (strategy, n) in values
            if strategy == active and n >= 2 and (baseline, n) in values
        ]
        if gaps:
            per_seed.append(statistics.fmean(gaps))
    if not per_seed:
        return {"seeds": 0}
    return {
        "seeds": len(per_seed),
        "mean": statistics.fmean(per_seed),
        "sd": statistics.stdev(per_seed) if len(per_seed) > 1 else 0.0,
        "ahead": sum(g > 0 for g in per_seed),
        "per_seed": per_seed,
    }


def plot(results: dict, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
    figure, axes = plt.subplots(1, len(METRICS), figsize=(11, 4.2))
    colours = {"convincing_wrong": "tab:red", "uniform": "tab:blue"}
    for ax, (metric, title) in zip(axes, METRICS, strict=True):
        for strategy, points in curves(rows, metric).items():
            if not points:
                continue
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            sd = [p[2] for p in points]
            colour = colours.get(strategy)
            seeds = points[0][3]
            label = f"{strategy} (mean of {seeds} seeds)" if seeds > 1 else strategy
            ax.plot(xs, ys, marker="o", color=colour, label=label)
            if seeds > 1:
                ax.fill_between(
                    xs,
                    [y - s for y, s in zip(ys, sd, strict=True)],
                    [y + s for y, s in zip(ys, sd, strict=True)],
                    color=colour,
                    alpha=0.15,
                )
        ax.set_xlabel("labeled solutions")
        ax.set_ylabel(title)
        ax.set_title(f"held-out ProcessBench: {title}")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def markdown(
    results: dict,
    command: str,
    image: str | None = None,
    raw: str = "active-learning-simulation.json",
) -> str:
    """The results block of docs/active-learning-simulation.md."""
    config, rows, host = results["config"], results["rows"], results["machine"]
    seeds = sorted({r["seed"] for r in rows})
    complete = results.get("complete", True)
    lines = [
        MARKERS[0],
        "",
        "## Results",
        "",
        *(
            []
            if results.get("complete", True)
            else ["**Partial results: the run was still going when this was written.**", ""]
        ),
        "Command:",
        "",
        "```sh",
        command,
        "```",
        "",
        f"Machine: {host['cpu']}, {host['cpus']} CPUs, {host['device']}; Python "
        f"{host['python']}, torch {host['torch']}. "
        f"{'Finished' if complete else 'Written'} {results['finished_at']} after "
        f"{results['seconds'] / 60:.1f} min.",
        "",
        f"Seeds with results: {', '.join(map(str, seeds)) or 'none'}"
        + (
            ""
            if complete
            else f" (of {', '.join(map(str, config['seeds']))} requested; the run was stopped)"
        )
        + f". Backbone `{config['backbone']}` "
        f"(first {config['keep_layers']} layers, frozen; `head` mode, {config['epochs']} epochs "
        f"with early stopping; max length {config['max_length']} tokens). Batch "
        f"{config['batch']} solutions per round, {config['rounds']} rounds, per-problem cap "
        f"{config['per_problem_cap']}, wrong-answer share {config['wrong_share']}, "
        f"{config['annotators']} simulated annotators.",
        "",
    ]
    for seed, info in results["splits"].items():
        lines.append(
            f"- seed {seed}: pool {info['pool_solutions']} solutions "
            f"({info['pool_problems']} problems); held out {info['held_out_solutions']} "
            f"solutions ({info['held_out_problems']} problems)"
        )
    lines.append("")
    if image:
        lines += [f"![quality against labels collected]({image})", ""]
    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    by_metric = {metric: curves(rows, metric) for metric, _ in METRICS}
    header = ["round", "labels"]
    for _metric, title in METRICS:
        header += [f"{title}: {s}" for s in strategies]
    header += [f"wrong answers in batch: {s}" for s in strategies]
    header += [f"batch found an error: {s}" for s in strategies]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    rounds = sorted({r["round"] for r in rows})
    for round_number in rounds:
        same = [r for r in rows if r["round"] == round_number]
        cells = [str(round_number), f"{statistics.fmean(r['labels'] for r in same):.0f}"]
        for metric, _ in METRICS:
            for strategy in strategies:
                values = [
                    r[metric] for r in same if r["strategy"] == strategy and r[metric] is not None
                ]
                cells.append(_mean_sd(values))
        for key in ("batch_wrong_answer_share", "batch_found_error_share"):
            for strategy in strategies:
                values = [r[key] for r in same if r["strategy"] == strategy and r[key] is not None]
                cells.append(_mean_sd(values, 2))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if len(seeds) > 1:
        lines += ["Values are the mean ± standard deviation over the seeds.", ""]
    if "convincing_wrong" in strategies and "uniform" in strategies:
        lines += [
            "Paired difference, convincing_wrong minus uniform, averaged over rounds 2 and later "
            "(round 1 is the shared uniform batch):",
            "",
        ]
        for metric, title in METRICS:
            gap = paired_gap(rows, metric)
            if gap["seeds"]:
                spread = f" ± {gap['sd']:.3f} (sd over {gap['seeds']} seeds)" if gap["sd"] else ""
                lines.append(
                    f"- {title}: {gap['mean']:+.3f}{spread}; active selection ahead in "
                    f"{gap['ahead']} of {gap['seeds']} seeds"
                )
        lines += ["", "Data efficiency of convincing-wrong-answer selection against uniform:", ""]
        for metric, title in METRICS:
            eff = efficiency(by_metric[metric]["convincing_wrong"], by_metric[metric]["uniform"])
            if not eff:
                continue
            finals = (
                f" ({by_metric[metric]['convincing_wrong'][-1][1]:.3f} against "
                f"{by_metric[metric]['uniform'][-1][1]:.3f})"
            )
            if eff["baseline_never_reaches"]:
                first = (
                    f"uniform never reaches active selection's final {title}{finals} within "
                    f"{eff['baseline_max_labels']:.0f} labels"
                )
            else:
                first = (
                    f"uniform needs {eff['baseline_labels_for_active_final']:.0f} labels to match "
                    f"active selection's final {title} (reached with "
                    f"{eff['active_final_labels']:.0f}): **{eff['ratio']:.2f}x**"
                )
            if eff["active_labels_for_baseline_final"] is None:
                second = f"active selection never reaches uniform's final {title}{finals}"
            else:
                second = (
                    f"active selection needs {eff['active_labels_for_baseline_final']:.0f} "
                    f"labels to match uniform's final {title}: {eff['converse_ratio']:.2f}x"
                )
            lines.append(f"- {title}: {first}; {second}.")
        lines.append("")
    lines += [
        f"Raw rows (every round, strategy and seed): [{raw}]({raw}).",
        "",
        MARKERS[1],
    ]
    return "\n".join(lines)


def _mean_sd(values: list[float], digits: int = 3) -> str:
    if not values:
        return "n/a"
    if len(values) == 1:
        return _fmt(values[0], digits)
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def write_markdown(path: str | Path, block: str) -> Path:
    """Replace the results block between the markers, keeping the text around it; a new file
    gets a title and the block."""
    path = Path(path)
    if path.exists():
        text = path.read_text(encoding="utf-8")
        begin, end = text.find(MARKERS[0]), text.find(MARKERS[1])
        if begin >= 0 and end > begin:
            text = text[:begin] + block + text[end + len(MARKERS[1]) :]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    else:
        text = "# Active-learning simulation\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
