"""Scoring solutions with a model version (loaded once per worker process), in bulk writes of
`SolutionScore` rows, and the frozen-backbone feature cache that head-mode versions share.
Torch is imported inside the functions."""

import contextlib
import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

from django.conf import settings
from django.db import transaction

from active_learning.models import ModelVersion, SolutionScore
from labeling.models import Solution

SCORE_BATCH = 64  # most rows per forward pass (scoring also caps padded tokens per pass)
WRITE_EVERY = 256  # scored solutions per bulk database write


_loaded: dict[int, tuple] = {}


def scoring_device() -> str | None:
    """The device this worker scores on: settings.PRM_DEVICE (env PRM_DEVICE, e.g. `cuda:1`;
    one worker per GPU on a multi-GPU host, docs/operators.md), else cuda:0 when there is a
    GPU, else the CPU."""
    return getattr(settings, "PRM_DEVICE", "") or None


def _model_for(version: ModelVersion):
    """The version's model, loaded once per worker process on `scoring_device()`."""
    if version.pk not in _loaded:
        from active_learning.prm.model import load_checkpoint

        _loaded.clear()  # one model in memory at a time
        _loaded[version.pk] = load_checkpoint(version.checkpoint, device=scoring_device())
    return _loaded[version.pk]


def feature_cache_file(project_id: int, backbone: str, keep_layers: int | None) -> Path:
    """The frozen-backbone feature cache of a project's head-mode versions on one backbone (cut
    to `keep_layers`): they all share the backbone's weights, only the head differs. Entries
    are keyed by the weights' fingerprint and the exact token ids, so a changed backbone simply
    misses (active_learning.prm.features)."""
    name = hashlib.sha256(f"{backbone}|{keep_layers}".encode()).hexdigest()[:16]
    return Path(settings.MODELS_DIR) / "features" / f"project-{project_id}-{name}.pt"


def feature_cache_path(version: ModelVersion) -> Path | None:
    """`feature_cache_file` of a head-mode version; None for other modes."""
    if (version.settings or {}).get("mode") != "head":
        return None
    keep = (version.settings or {}).get("keep_layers")
    return feature_cache_file(version.project_id, version.backbone, keep)


@contextlib.contextmanager
def feature_cache_for(version: ModelVersion):
    """Activate the version's feature cache (head mode) for the block, saving what it learned
    at the end; a no-op for other modes."""
    path = feature_cache_path(version)
    if path is None:
        yield None
        return
    from active_learning.prm import features

    cache = features.FeatureCache(path)
    with features.cached(cache):
        try:
            yield cache
        finally:
            if cache.misses:
                cache.save()


def examples_score(
    version: ModelVersion, examples: Iterable, aggregation: str = "product", stats=None
):
    from active_learning.prm.scoring import score
    from active_learning.prm.tokenization import StepTokenizer

    model, tokenizer, metadata = _model_for(version)
    max_length = metadata.get("settings", {}).get("max_length", 1024)
    yield from score(
        model,
        StepTokenizer(tokenizer, max_length),
        examples,
        batch_size=SCORE_BATCH,
        aggregation=aggregation,
        stats=stats,
    )


def _in_background(iterator, depth: int = 4):
    """Run `iterator` in a thread, `depth` items ahead: the model computes the next results
    while this thread writes the previous ones to the database (torch releases the GIL in its
    kernels). Database access stays in the calling thread. An exception in the iterator is
    raised here."""
    import queue
    import threading

    items: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce():
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        items.put(("item", item), timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put(("end", done))
        except BaseException as exc:  # handed to the consumer, which raises it
            items.put(("error", exc))

    thread = threading.Thread(target=produce, name="prm-scoring", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = items.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()


def solutions_score(
    *,
    version: ModelVersion,
    solution_ids: list[int],
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Score solutions with a version and store the scores (and the latest score on the
    solution when the version is current). Safe to run twice. Inference runs in a background
    thread while the results are written in bulk here, every WRITE_EVERY solutions;
    `progress(done, total)` after each write. Returns the throughput figures
    (active_learning.prm.throughput) plus `solutions_per_second` and `from_cache`."""
    import time

    from active_learning.prm import throughput
    from active_learning.prm.data import Example
    from active_learning.prm.scoring import ScoreStats

    solutions = list(
        Solution.objects.filter(pk__in=solution_ids).select_related("problem").order_by("pk")
    )
    examples = (Example(s.problem.text, list(s.steps), [None] * len(s.steps)) for s in solutions)
    stats = ScoreStats()
    started = time.monotonic()
    pending: list[tuple] = []
    done = 0

    def write(batch):
        rows = [
            SolutionScore(
                model_version=version,
                solution=solution,
                score=scored.solution_score,
                step_scores=scored.step_scores,
                truncated=scored.truncated,
            )
            for solution, scored in batch
        ]
        for solution, scored in batch:
            solution.prm_score = scored.solution_score
        with transaction.atomic():
            SolutionScore.objects.filter(
                model_version=version, solution__in=[s for s, _ in batch]
            ).delete()
            SolutionScore.objects.bulk_create(rows, batch_size=1000)
            if version.is_current:
                Solution.objects.bulk_update([s for s, _ in batch], ["prm_score"], batch_size=1000)

    with feature_cache_for(version):
        results = _in_background(examples_score(version, examples, stats=stats))
        for solution, scored in zip(solutions, results, strict=True):
            pending.append((solution, scored))
            if len(pending) >= WRITE_EVERY:
                write(pending)
                done += len(pending)
                pending = []
                if progress:
                    progress(done, len(solutions))
        if pending:
            write(pending)
            done += len(pending)
            if progress:
                progress(done, len(solutions))
    seconds = time.monotonic() - started
    model = _model_for(version)[0]
    figures = throughput.measure(
        kind="scoring",
        model=model,
        tokens=stats.tokens,
        labeled_steps=stats.steps,
        seconds=seconds,
        device=next(model.parameters()).device,
    ).as_dict()
    figures.update(
        solutions=stats.solutions,
        solutions_per_second=stats.solutions / seconds if seconds > 0 else None,
        from_cache=stats.from_cache,
        padded_tokens=stats.padded_tokens,
        model_seconds=round(stats.model_seconds, 3),
    )
    return figures
