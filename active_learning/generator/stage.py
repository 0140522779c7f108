"""The loop's "generate" stage of a run, and of the stand-alone generator run (issue 18; worker
side, it imports torch).

A run whose params hold `generate` (see `generate_params`) starts by sampling new candidate
solutions (services.solutions_generate) before it trains, scores and selects, so the loop can
run from imported problems alone. With `generate["only"]` the run ends after the stage: that is
the generator run the `generate_solutions` command, the API and the lead page start. Either way
it is an ordinary `Run` (one active per project, queued on the `gpu` queue by
active_learning.tasks.run_start, failed by the watchdog when its worker goes silent, retried as
a new run with the same params), so the loop page lists it with the others.

Progress: the stage writes the run's note ("generating 24/40 solutions · 1.3 solutions/s"),
heartbeat and `throughput["generation"]` (services.solutions_generate's figures) after every
batch. A generate-only run's bar goes from 0 to 100 with the samples; a loop run's bar stays at
its start during the stage (the training span starts at 0), and its note tells the progress.
Cancel: a running generator run can be stopped (active_learning.generator_runs.generation_stop);
the stage sees it before the next batch, ends, and keeps what it stored.
"""

import time

from django.db import transaction
from django.db.models import F, TextField, Value
from django.db.models.functions import Concat
from django.utils import timezone

from active_learning import selection
from active_learning.generator.params import generator_options
from active_learning.generator.services import solutions_generate
from active_learning.models import ModelVersion, Run, RunStage, RunStatus, Strategy
from labeling.models import Generation, GenerationItem, Labeling, LabelingStatus
from labeling.selectors import unlabeled_solutions

PROGRESS_EVERY_SECONDS = 1.0
HEARTBEAT_EVERY_SECONDS = 30.0  # during a batch; the watchdog waits ACTIVE_LEARNING_STALE_SECONDS


def _line(message: str) -> str:
    return f"[{timezone.now():%Y-%m-%d %H:%M:%S}] {message}\n"


def _log(run_id: int, message: str) -> None:
    Run.objects.filter(pk=run_id).update(
        log=Concat(F("log"), Value(_line(message)), output_field=TextField()),
        updated_at=timezone.now(),
    )


def progress_note(figures: dict) -> str:
    """The run page's line for the stage: "generating 24/40 solutions · 1.3 solutions/s"."""
    rate = figures.get("solutions_per_second")
    speed = f" · {rate:.2f} solutions/s" if rate else ""
    return f"generating {figures['sampled']}/{figures['requested']} solutions{speed}"


def run_generate(run_id: int) -> bool:
    """The run's generate stage, when its params ask for one. Returns True when the run is
    over (a generate-only run succeeded; a cold start published a uniform generation, see
    `_cold_start_publish`; or the run was stopped meanwhile), False when the loop goes on to
    training. Errors propagate (the task / run_round fail the run with them:
    a prompt or model that fails is named in the run's error)."""
    run = Run.objects.select_related("project").get(pk=run_id)
    generate = (run.params or {}).get("generate")
    if not generate:
        return False
    options = generator_options(generate["options"])
    only = bool(generate.get("only"))
    now = timezone.now()
    Run.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        stage=RunStage.GENERATE,
        stage_started_at=now,
        heartbeat_at=now,
        progress_note=f"loading the generator {options.model}",
    )
    _log(
        run_id,
        f"generating {options.samples_per_problem} solution(s) per problem with "
        f"{options.model} (temperature {options.temperature}, top-p {options.top_p}, seed "
        f"{options.seed}"
        + (", problems with fewer candidates only)" if options.only_needed else ")"),
    )
    last = [0.0]

    def progress(figures: dict) -> None:
        if time.monotonic() - last[0] < PROGRESS_EVERY_SECONDS:
            return
        last[0] = time.monotonic()
        _write_progress(run_id, figures, only)

    def should_stop() -> bool:
        return not Run.objects.filter(pk=run_id, status=RunStatus.RUNNING).exists()

    beat = [time.monotonic()]

    def heartbeat() -> None:
        # within one long batch (minutes on a CPU), so the watchdog does not take the run
        # for dead: at most one write per HEARTBEAT_EVERY_SECONDS
        if time.monotonic() - beat[0] >= HEARTBEAT_EVERY_SECONDS:
            beat[0] = time.monotonic()
            Run.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
                heartbeat_at=timezone.now()
            )

    figures = solutions_generate(
        project=run.project,
        options=options,
        problem_ids=generate.get("problem_ids"),
        run_id=run_id,
        progress=progress,
        should_stop=should_stop,
        heartbeat=heartbeat,
    )
    _write_progress(run_id, figures, only)
    _log(run_id, summary(figures))
    now = timezone.now()
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        seconds = dict(run.stage_seconds or {})
        if run.stage_started_at:
            seconds[RunStage.GENERATE] = round((now - run.stage_started_at).total_seconds(), 3)
        run.stage_seconds = seconds
        if run.status != RunStatus.RUNNING:  # stopped meanwhile: keep what it made on record
            run.throughput = {**(run.throughput or {}), "generation": figures}
            run.save(update_fields=["stage_seconds", "throughput", "updated_at"])
            return True
        cold = not only and not _has_labels(run.project) and not _has_model(run.project)
        if cold:  # nothing to train on and no model to score with: publish uniformly
            run.generation = _cold_start_publish(run)
        if only or cold:
            run.mark_succeeded(now)
        run.heartbeat_at = now
        run.save()
        if cold:
            _log(run_id, cold_start_message(run))
    return only or cold


def _has_labels(project) -> bool:
    """Labelings a PRM can train on (submitted, ended found_error or solution)."""
    return Labeling.objects.filter(
        project=project,
        status=LabelingStatus.SUBMITTED,
        finish_reason__in=("found_error", "solution"),
    ).exists()


def _has_model(project) -> bool:
    return ModelVersion.objects.filter(project=project, is_current=True).exists()


def _cold_start_publish(run: Run) -> Generation | None:
    """The loop's cold start (a project of problems alone): no label to train a PRM on and no
    model to score with, so the run publishes a generation chosen by the uniform strategy
    (selection.plan: random, at most `per_problem_cap` per problem, the run's seed) from the
    unlabeled candidates, the generated ones among them, and stops there; the next run, once
    labels are in, trains, scores and selects as usual. None when there is no candidate."""
    params = run.params
    rows = unlabeled_solutions(run.project).values_list("pk", "problem_id", "is_correct")
    candidates = [selection.Candidate(pk, problem, None, correct) for pk, problem, correct in rows]
    picked = selection.plan(
        candidates,
        batch_size=params["batch_size"],
        per_problem_cap=params["per_problem_cap"],
        wrong_share=params["wrong_share"],
        strategy=Strategy.UNIFORM,
        seed=params["seed"],
    )
    if not picked.picks:
        return None
    last = (
        Generation.objects.filter(project=run.project, number__gte=0)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    generation = Generation.objects.create(
        project=run.project,
        number=0 if last is None else last + 1,
        strategy=Strategy.UNIFORM,
        params={
            "strategy": Strategy.UNIFORM,
            "cold_start": True,  # no labels and no model yet (the run asked for another)
            "asked_strategy": params["strategy"],
            "batch_size": params["batch_size"],
            "per_problem_cap": params["per_problem_cap"],
            "seed": params["seed"],
            "model_version": None,
            "run": run.pk,
            "candidates": len(candidates),
            "selected": len(picked.picks),
            "selection": picked.summary(),
        },
    )
    GenerationItem.objects.bulk_create(
        GenerationItem(generation=generation, solution_id=c.solution_id, rank=rank)
        for rank, c in enumerate(picked.picks)
    )
    return generation


def cold_start_message(run: Run) -> str:
    if run.generation is None:
        return "no labels and no model yet, and no unlabeled candidate: nothing published"
    return (
        f"no labels to train on and no model yet (a cold start): published generation "
        f"{run.generation.number} chosen uniformly at random ({run.generation.params['selected']}"
        " solutions); the next run trains on its labels"
    )


def _write_progress(run_id: int, figures: dict, only: bool) -> None:
    fraction = figures["sampled"] / figures["requested"] if figures["requested"] else 1.0
    rate = figures.get("solutions_per_second")
    remaining = figures["requested"] - figures["sampled"]
    extra = {"percent": round(100 * min(fraction, 1.0), 1)} if only else {}
    Run.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        heartbeat_at=timezone.now(),
        progress_note=progress_note(figures)[:200],
        eta_seconds=remaining / rate if rate else None,
        throughput=_with_generation(run_id, figures),
        **extra,
    )


def _with_generation(run_id: int, figures: dict) -> dict:
    current = Run.objects.filter(pk=run_id).values_list("throughput", flat=True).first() or {}
    return {**current, "generation": figures}


def summary(figures: dict) -> str:
    """The log line that ends the stage."""
    grading = figures.get("grading") or {}
    text = (
        f"generated {figures['sampled']} of {figures['requested']} solutions for "
        f"{figures['problems']} problem(s) in {figures['seconds']:.1f} s"
        + (
            f" ({figures['solutions_per_second']:.2f} solutions/s"
            f", model loaded in {figures['load_seconds']:.1f} s)"
            if figures.get("solutions_per_second")
            else ""
        )
        + f": {figures['stored']} stored, {figures['duplicates']} duplicate(s), "
        f"{figures['no_steps']} without parseable steps, {figures['no_answer']} without a "
        f"final answer; graded {grading.get('correct', 0)} correct, "
        f"{grading.get('wrong', 0)} wrong, {grading.get('no_reference', 0)} without a "
        "reference answer"
    )
    if figures.get("stopped"):
        text += "; stopped early"
    for quote in figures.get("unparsed") or []:
        text += f"\n  no steps in: {quote!r}"
    return text
