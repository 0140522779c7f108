"""Generating candidate solutions for a project (worker side: it imports torch; the web checks
options with active_learning.generator.params).

`solutions_generate` samples N solutions per problem (`options.GeneratorOptions`), parses each
(`parsing.parse_solution`), stores the ones with steps as candidate `Solution`s of the project
and grades them against the problem's reference answer with the project's grader
(active_learning.grading, math-verify). What each solution records:

- `generator`: the model id or path as given;
- `source`: "generated";
- `metadata["generated"]`: the generator options (prompt template, separator, temperature,
  top-p, max new tokens, base seed, batch size), the solution's own seed (its batch's, see
  sampling), the engine and device, the run id, whether the model ended the text itself
  (`finished`), its token count, and the parse status (`ok` or `no_answer`).

A sample with no parseable steps is not a candidate (there is nothing to label): it is counted
under `no_steps` in the figures, and the run's log quotes the first few. A sample with steps
but no final answer is stored with `final_answer` null, so the grader marks it `no_answer`.
Samples identical to a stored solution of the same problem (same steps) are counted as
`duplicates` and stored once (the `solution_steps_unique` constraint).

Everything is stored batch by batch, so a cancelled or failed generation keeps what it made.
"""

import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Count

from active_learning.generator import parsing, sampling
from active_learning.generator.options import GeneratorOptions
from active_learning.generator.params import GENERATED_SOURCE, generator_options
from active_learning.grading import solutions_grade_range
from labeling.errors import ApplicationError
from labeling.models import (
    Problem,
    Project,
    Solution,
)
from labeling.selectors import unlabeled_solutions
from labeling.services.prm800k import steps_hash

logger = logging.getLogger(__name__)

QUOTED_FAILURES = 3  # unparseable samples quoted in the log, each cut to QUOTE_CHARS
QUOTE_CHARS = 200


def problems_to_sample(
    *, project: Project, options: GeneratorOptions, problem_ids: list[int] | None = None
) -> list[Problem]:
    """The problems a generation samples, in id order: `problem_ids` (or all the project's),
    and with `options.only_needed` only those with fewer than `samples_per_problem` unlabeled
    candidates ("the problems that need them"). ApplicationError for ids that are not problems
    of the project."""
    problems = Problem.objects.filter(project=project).order_by("pk")
    if problem_ids is not None:
        problems = problems.filter(pk__in=problem_ids)
        missing = sorted(set(problem_ids) - set(problems.values_list("pk", flat=True)))
        if missing:
            raise ApplicationError(
                f"Problem(s) {', '.join(map(str, missing[:10]))} are not problems of "
                f"project {project.name!r}."
            )
    if not options.only_needed:
        return list(problems)
    have = dict(
        unlabeled_solutions(project)
        .values("problem_id")
        .annotate(n=Count("pk"))
        .values_list("problem_id", "n")
    )
    return [p for p in problems if have.get(p.pk, 0) < options.samples_per_problem]


def samples_store(
    *,
    project: Project,
    problem: Problem,
    texts: list[tuple[str, dict]],
    options: GeneratorOptions,
    recorded: dict,
) -> dict:
    """Parse and store one problem's samples: `texts` are (generated text, per-sample record:
    seed, finished, new_tokens). `recorded`: what every sample records besides (engine,
    device, run). Returns counts {"stored", "duplicates", "no_steps", "no_answer", "ids",
    "unparsed"} ("unparsed": the first texts without steps, for the log)."""
    counts = Counter()
    unparsed: list[str] = []
    rows: dict[str, Solution] = {}
    params = options.as_params()
    for text, record in texts:
        parsed = parsing.parse_solution(
            text,
            separator=options.step_separator,
            stop=options.stop,
            max_step_chars=settings.IMPORT_MAX_TEXT_CHARS,
        )
        if parsed.status == parsing.NO_STEPS:
            counts["no_steps"] += 1
            if len(unparsed) < QUOTED_FAILURES:
                unparsed.append(text[:QUOTE_CHARS])
            continue
        digest = steps_hash(parsed.steps)
        if digest in rows:
            counts["duplicates"] += 1
            continue
        rows[digest] = Solution(
            project=project,
            problem=problem,
            steps=parsed.steps,
            steps_hash=digest,
            final_answer=parsed.final_answer,
            generator=options.model,
            source=GENERATED_SOURCE,
            metadata={
                "generated": {
                    **params,
                    **recorded,
                    **record,
                    "parse": parsed.status,
                    "stopped": parsed.stopped,
                    **({"notes": parsed.notes} if parsed.notes else {}),
                }
            },
        )
    with transaction.atomic():
        existing = set(
            Solution.objects.filter(problem=problem, steps_hash__in=list(rows)).values_list(
                "steps_hash", flat=True
            )
        )
        new = [row for digest, row in rows.items() if digest not in existing]
        Solution.objects.bulk_create(new, ignore_conflicts=True)
        ids = list(
            Solution.objects.filter(
                problem=problem, steps_hash__in=[row.steps_hash for row in new]
            ).values_list("pk", flat=True)
        )
    return {
        "stored": len(ids),
        "duplicates": counts["duplicates"] + len(rows) - len(new),
        "no_steps": counts["no_steps"],
        "no_answer": sum(1 for row in new if row.final_answer is None),
        "ids": ids,
        "unparsed": unparsed,
    }


def _cache_dir() -> Path:
    return Path(settings.MODELS_DIR) / "generators"


def solutions_generate(
    *,
    project: Project,
    options: GeneratorOptions,
    problem_ids: list[int] | None = None,
    run_id: int | None = None,
    progress: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    heartbeat: Callable[[], None] | None = None,
    model=None,
) -> dict:
    """Sample, store and grade `options.samples_per_problem` solutions for each problem that
    `problems_to_sample` picks. Runs on a worker (the `gpu` queue), a command or a test, in a
    process's main thread (the grader's timeouts use signals).

    `progress(figures)` is called after every batch with the figures so far; `should_stop()`
    is asked before every batch (a cancelled run stops after the batch in flight);
    `heartbeat()` after every decoding step (keep it cheap: throttle inside). `model`: a
    ready (model, tokenizer) pair, else `options.model` is loaded (GeneratorError naming it
    when it cannot be).

    Returns the figures: problems, requested (problems x N), sampled, stored, duplicates,
    no_steps, no_answer, the grading outcomes (correct, wrong, no_reference, no_answer,
    errors), seconds, solutions_per_second (sampled / wall seconds, loading excluded),
    new_tokens, tokens_per_second, engine, device, model, stopped (cancelled early),
    unparsed (the first samples without steps, cut)."""
    problems = problems_to_sample(project=project, options=options, problem_ids=problem_ids)
    figures: dict = {
        "model": options.model,
        "problems": len(problems),
        "requested": len(problems) * options.samples_per_problem,
        "sampled": 0,
        "stored": 0,
        "duplicates": 0,
        "no_steps": 0,
        "no_answer": 0,
        "grading": {},
        "seconds": 0.0,
        "load_seconds": 0.0,
        "solutions_per_second": None,
        "new_tokens": 0,
        "tokens_per_second": None,
        "engine": None,
        "device": None,
        "stopped": False,
        "unparsed": [],
    }
    if not problems:
        return figures
    prompts = [options.prompt(p.text) for p in problems]
    device = sampling.pick_device(options.device or None)
    engine = sampling.TRANSFORMERS if model is not None else sampling.engine_for(options.model)
    figures.update(engine=engine, device=device)
    loading = sampling.Timer()
    if engine == sampling.VLLM:  # pragma: no cover - GPU workers with vLLM only
        batches = iter(
            [
                sampling.sample_vllm(
                    options.model,
                    prompts,
                    n=options.samples_per_problem,
                    temperature=options.temperature,
                    top_p=options.top_p,
                    max_new_tokens=options.max_new_tokens,
                    seed=options.seed,
                    use_chat_template=options.use_chat_template,
                )
            ]
        )
    else:
        lm, tokenizer = model or sampling.load_generator(
            options.model, device=device, cache_dir=_cache_dir()
        )
        texts = sampling.build_prompts(
            tokenizer, prompts, use_chat_template=options.use_chat_template
        )
        batches = sampling.sample_batches(
            lm,
            tokenizer,
            texts,
            n=options.samples_per_problem,
            temperature=options.temperature,
            top_p=options.top_p,
            max_new_tokens=options.max_new_tokens,
            seed=options.seed,
            batch_size=options.batch_size,
            should_stop=should_stop,
            on_token=heartbeat,
        )
    figures["load_seconds"] = round(loading.seconds, 3)
    timer = sampling.Timer()
    grading: Counter = Counter()
    recorded = {"engine": engine, "device": device, "run": run_id}
    for batch in batches:
        by_problem: dict[int, list] = {}
        for sample in batch:
            by_problem.setdefault(sample.prompt_index, []).append(
                (
                    sample.text,
                    {
                        "sample_seed": sample.seed,
                        "finished": sample.finished,
                        "new_tokens": sample.new_tokens,
                    },
                )
            )
            figures["new_tokens"] += sample.new_tokens
        ids = []
        for index, texts_of in by_problem.items():
            stored = samples_store(
                project=project,
                problem=problems[index],
                texts=texts_of,
                options=options,
                recorded=recorded,
            )
            for key in ("stored", "duplicates", "no_steps", "no_answer"):
                figures[key] += stored[key]
            ids.extend(stored["ids"])
            room = QUOTED_FAILURES - len(figures["unparsed"])
            figures["unparsed"].extend(stored["unparsed"][: max(room, 0)])
        if ids:  # the batch's new rows: one id range (others pending in it are graded too)
            grading.update(
                solutions_grade_range(project_id=project.pk, first_id=min(ids), last_id=max(ids))
            )
        figures["sampled"] += len(batch)
        seconds = timer.seconds
        figures["seconds"] = round(seconds, 3)
        figures["solutions_per_second"] = figures["sampled"] / seconds if seconds else None
        figures["tokens_per_second"] = figures["new_tokens"] / seconds if seconds else None
        figures["grading"] = dict(grading)
        if progress is not None:
            progress(dict(figures))
    figures["stopped"] = figures["sampled"] < figures["requested"]
    return figures


# -- phase 1: alternative next steps ----------------------------------------------------------

_loaded: dict[tuple[str, str], tuple] = {}


def sample_next_steps(
    *,
    problem: str,
    prefix_steps: list[str],
    k: int = 3,
    options: GeneratorOptions | dict | None = None,
    max_new_tokens: int = 256,
    model=None,
) -> list[str]:
    """Up to `k` alternative next steps for a solution of `problem` that so far has the steps
    `prefix_steps` (PRM800K phase 1: the labeler rates each and continues with one).

    The prompt is `options.prompt(problem)` (in the chat template's user turn when
    `options.use_chat_template`) followed by the prefix steps joined by `options.step_separator`
    (and one more separator when there is a prefix); each of `k` samples (temperature / top-p /
    seed of `options`: the same seed gives the same alternatives, pass another for fresh ones)
    is cut to its first step. Returns the distinct non-empty steps in sampling order: fewer than
    `k` when samples repeat or hold no step, `[]` at worst, never an error for what the model
    writes. A step that reads "# Answer\\n\\n<answer>" ends the solution.

    `options`: GeneratorOptions or a dict of them (checked: ApplicationError), default the
    GENERATOR_MODEL setting. `model`: a ready (model, tokenizer) pair; otherwise the model is
    loaded once per process and kept (GeneratorError when it cannot be). Runs on a worker or
    a command (it needs torch): the web process calls it through a task."""
    if not isinstance(options, GeneratorOptions):
        options = generator_options(options)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 100:
        raise ApplicationError("k: must be a whole number from 1 to 100")
    if model is None:
        device = sampling.pick_device(options.device or None)
        key = (options.model, device)
        if key not in _loaded:
            _loaded[key] = sampling.load_generator(
                options.model, device=device, cache_dir=_cache_dir()
            )
        model = _loaded[key]
    lm, tokenizer = model
    separator = options.step_separator
    # the prefix continues the answer (after a chat template's assistant turn has begun)
    (text,) = sampling.build_prompts(
        tokenizer, [options.prompt(problem)], use_chat_template=options.use_chat_template
    )
    if prefix_steps:
        text += separator.join(prefix_steps) + separator
    steps: list[str] = []
    for batch in sampling.sample_batches(
        lm,
        tokenizer,
        [text],
        n=k,
        temperature=options.temperature,
        top_p=options.top_p,
        max_new_tokens=max_new_tokens,
        seed=options.seed,
        batch_size=k,
    ):
        for sample in batch:
            step = _next_step(sample.text, options)
            if step and step not in steps:
                steps.append(step)
    return steps


def _next_step(text: str, options: GeneratorOptions) -> str | None:
    parsed = parsing.parse_solution(text, separator=options.step_separator, stop=options.stop)
    if not parsed.steps:
        return None
    return parsed.steps[0]
