"""The simulation's report: learning curves, labels needed to reach a quality, the paired gap
between strategies, the plot and the Markdown block in docs."""

import statistics
from dataclasses import asdict
from pathlib import Path

from active_learning.simulation.config import MARKERS, STRATEGIES, SimulationConfig

# --- reporting ----------------------------------------------------------------------------------

METRICS = (("step_roc_auc", "step ROC AUC"), ("first_error_f1", "first-error F1"))


def fmt(value, digits: int = 3) -> str:
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
        "python manage.py simulate_active_learning --smoke",
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
        return fmt(values[0], digits)
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
