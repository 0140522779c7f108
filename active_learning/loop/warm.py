"""The feature-cache warm-up, on a `gpu` worker: the backbone's features of a head-mode
project's candidates, computed ahead of its first run so that the run scores its pool from the
cache. Sent by `active_learning.tasks.features_warm_queue`; its progress is announced through
`active_learning/warmup.py`, which the loop page reads."""

import time
from pathlib import Path

from django.conf import settings

from active_learning import warmup
from active_learning.loop.candidates import candidate_ids
from active_learning.loop.params import loop_settings_get
from active_learning.loop.stages.train import resolve_training_mode
from active_learning.services.scoring import feature_cache_file, scoring_device
from labeling.models import Project, Solution


def features_warm(project: Project, solution_ids: list[int] | None = None) -> dict:
    """Fill the project's feature cache with the backbone's features of `solution_ids` (default:
    every candidate of the loop), as the loop's settings would train and score them, so that the
    next head-mode run scores them from the cache. Does nothing unless the loop trains in head
    mode on this machine (`auto` on a CPU worker). Announces its progress (solutions done of
    total, after every `WARM_WINDOW`) through `warmup.record` and removes the record when it
    ends, however it ends. Returns {"solutions", "computed", "seconds"}.
    """
    loop = loop_settings_get(project)
    backbone = loop.backbone or settings.PRM_BACKBONE
    if resolve_training_mode(loop.training_mode) != "head":
        warmup.record(project.pk, backbone, "done")
        return {"solutions": 0, "computed": 0, "seconds": 0.0, "skipped": "not head mode"}
    started = time.monotonic()
    ids = candidate_ids(project) if solution_ids is None else solution_ids
    warmup.record(project.pk, backbone, "running", 0, len(ids))
    try:
        computed = _features_warm(project, loop, backbone, ids)
    finally:
        warmup.record(project.pk, backbone, "done")
    return {"solutions": len(ids), "computed": computed, "seconds": time.monotonic() - started}


WARM_WINDOW = 32  # solutions per backbone pass between two progress announcements


def _features_warm(project: Project, loop, backbone: str, ids: list[int]) -> int:
    """The warm-up's work (see `features_warm`); returns the solutions computed."""
    from active_learning.prm import backbones, features
    from active_learning.prm.data import Example
    from active_learning.prm.tokenization import StepTokenizer

    model, tokenizer = backbones.load(
        backbone,
        cache_dir=Path(settings.MODELS_DIR) / "backbones",
        keep_layers=loop.keep_layers,
        attn_implementation=loop.attn_implementation or None,
        device=scoring_device(),
    )
    step_tokenizer = StepTokenizer(tokenizer, max_length=loop.max_length)
    cache = features.FeatureCache(feature_cache_file(project.pk, backbone, loop.keep_layers))
    solutions = Solution.objects.filter(pk__in=ids).select_related("problem").order_by("pk")
    batch, done = [], 0
    for solution in solutions.iterator(chunk_size=256):
        batch.append(
            Example(solution.problem.text, list(solution.steps), [None] * len(solution.steps))
        )
        if len(batch) >= WARM_WINDOW:
            cache.step_features(model, step_tokenizer.encode_many(batch), step_tokenizer.pad_id)
            done += len(batch)
            batch = []
            warmup.record(project.pk, backbone, "running", done, len(ids))
    if batch:
        cache.step_features(model, step_tokenizer.encode_many(batch), step_tokenizer.pad_id)
    if cache.misses:
        cache.save()
    return cache.misses
