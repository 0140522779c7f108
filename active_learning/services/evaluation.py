"""Evaluating a model version on a ProcessBench file: the first-error F1 at the standard
protocol and tuned, step ROC AUC, best-of-N, and the report as Markdown
(active_learning.prm.evaluation has the definitions)."""

import hashlib
from dataclasses import asdict

from active_learning.models import ModelVersion
from active_learning.services.scoring import examples_score
from labeling.errors import ApplicationError


def processbench_evaluate(*, version: ModelVersion, path: str, aggregation="product") -> dict:
    """Evaluation report of a version on a ProcessBench file (active_learning.prm.evaluation has
    the definitions):

    - `first_error`: ProcessBench F1 at the standard protocol (first step with P(error) > 0.5),
      on every solution: the figure comparable with published numbers;
    - `first_error_tuned`: the F1 with a threshold chosen on one half of the problems (by a
      hash of the problem text, `threshold_split`) and reported on the other half;
    - `baselines`: always-correct and random first-error predictions on the same solutions;
    - step ROC AUC; best-of-N against majority voting, answers grouped by the grader's
      equivalence (labeling.grading.answer_key, then answers_equivalent);
    - `truncated`: solutions longer than the model's context, scored on the steps that fit, and
      how many of them had their labeled first error beyond the kept steps.

    Raises ApplicationError when the file cannot be read or has no records."""
    from active_learning.prm import data, evaluation
    from labeling.answers import final_answer
    from labeling.grading import answer_key, answers_equivalent

    try:
        records = data.read_processbench(path)
    except (OSError, ValueError) as exc:
        raise ApplicationError(f"{path}: cannot read ProcessBench records ({exc})") from None
    if not records:
        raise ApplicationError(f"{path}: no records")
    examples = [
        data.Example(data.strip_suffix(r["problem"]), list(r["steps"]), [None] * len(r["steps"]))
        for r in records
    ]
    scored = list(examples_score(version, examples, aggregation))
    good, values = [], []
    validation, test = ([], []), ([], [])
    candidates = []
    labels, all_scores, step_counts = [], [], []
    truncated = error_cut_off = 0
    for record, result in zip(records, scored, strict=True):
        label = record["label"]
        labels.append(label)
        all_scores.append(result.step_scores)
        step_counts.append(len(record["steps"]))
        if result.truncated:
            truncated += 1
            error_cut_off += label >= result.kept_steps
        for i, value in enumerate(result.step_scores):
            if label == -1 or i <= label:
                good.append(label == -1 or i < label)
                values.append(value)
        half = validation if _held_out_half(record["problem"]) else test
        half[0].append(label)
        half[1].append(result.step_scores)
        candidates.append(
            (
                record["problem"],
                final_answer(record["steps"]),
                record.get("final_answer_correct"),
                result.solution_score,
            )
        )
    standard = evaluation.first_error_f1(labels, all_scores, evaluation.STANDARD_THRESHOLD)
    threshold = evaluation.choose_threshold(*validation) if validation[0] else None
    tuned = (
        evaluation.first_error_f1(*test, threshold) if test[0] and threshold is not None else None
    )
    best = evaluation.best_of_n(candidates, equivalent=answers_equivalent, key=answer_key)
    return {
        "model_version": version.pk,
        "backbone": version.backbone,
        "file": str(path),
        "solutions": len(records),
        "truncated": truncated,
        "truncated_error_cut_off": error_cut_off,
        "step_roc_auc": evaluation.roc_auc(good, values),
        "steps": len(values),
        "first_error": asdict(standard),
        "protocol": "ProcessBench standard: first step with P(error) > 0.5, all solutions",
        "first_error_tuned": asdict(tuned) if tuned else None,
        "threshold_split": (
            f"threshold chosen on {len(validation[0])} solutions (problems whose sha256 starts "
            f"below 0x80), reported on the other {len(test[0])}"
        ),
        "baselines": {
            "always_correct": asdict(evaluation.baseline_always_correct(labels)),
            "random": asdict(evaluation.baseline_random(labels, step_counts)),
        },
        "best_of_n": asdict(best),
        "aggregation": aggregation,
    }


def _held_out_half(problem: str) -> bool:
    return hashlib.sha256(problem.encode()).digest()[0] < 128


def report_markdown(report: dict) -> str:
    """The evaluation report as Markdown: the standard-protocol F1 first, then the tuned one
    (its split named), the baselines, step ROC AUC and best-of-N."""
    fe = report["first_error"] or {}
    tuned = report.get("first_error_tuned") or {}
    base = report.get("baselines", {})
    bon = report["best_of_n"]

    def fmt(value):
        if value is None or (isinstance(value, float) and value != value):
            return "n/a"
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    def row(name, result):
        result = result or {}
        return (
            f"| {name} | {fmt(result.get('f1'))} | {fmt(result.get('error_accuracy'))} | "
            f"{fmt(result.get('correct_accuracy'))} | {fmt(result.get('threshold'))} |"
        )

    return "\n".join(
        [
            f"# PRM evaluation: model version {report['model_version']}",
            "",
            f"Backbone `{report['backbone']}`; {report['solutions']} solutions from "
            f"`{report['file']}`; {report['truncated']} truncated (scored on the steps that "
            f"fit; {report.get('truncated_error_cut_off', 0)} of them had the labeled first "
            "error beyond those steps).",
            "",
            "## ProcessBench first-error F1",
            "",
            "| predictor | F1 | accuracy, flawed | accuracy, correct | threshold |",
            "|---|---|---|---|---|",
            row(
                f"PRM, standard protocol (P(error) > 0.5; {fe.get('flawed')} flawed, "
                f"{fe.get('correct')} correct)",
                fe,
            ),
            row(f"PRM, tuned threshold ({report.get('threshold_split', '')})", tuned),
            row("baseline: always correct", base.get("always_correct")),
            row("baseline: random first error (expected)", base.get("random")),
            "",
            f"Step ROC AUC ({report['steps']} steps up to the first error): "
            f"{fmt(report['step_roc_auc'])}.",
            "",
            f"## Best-of-N ({bon['problems']} problems, {fmt(bon['mean_candidates'])} "
            "candidates each)",
            "",
            "| selection | accuracy |",
            "|---|---|",
            f"| PRM ({report['aggregation']} of step scores) | {fmt(bon['prm_accuracy'])} |",
            f"| majority voting (answers grouped by {bon.get('grouping', 'text')}) | "
            f"{fmt(bon['majority_accuracy'])} |",
            f"| baseline: random candidate (expected) | {fmt(bon.get('random_accuracy'))} |",
            f"| ceiling: any candidate correct (pass@N) | {fmt(bon.get('any_correct'))} |",
            "",
        ]
    )
