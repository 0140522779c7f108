"""Stage 2 of a run: split the unlabeled candidates into chunks and score each chunk with the
run's version, one task per chunk on the `gpu` workers. The join is kept in the database
(`RunChunk.done`), so no result backend is needed and a redelivered chunk is not counted twice.
"""

from django.db import transaction
from django.db.models import F

from active_learning.loop.candidates import candidate_ids
from active_learning.loop.runs import StageProgress, run_log, stage_enter
from active_learning.models import Run, RunChunk, RunStage, RunStatus, Strategy
from labeling.errors import ApplicationError
from labeling.models import GoldLabel
from labeling.services.disagreement import labeled_solution_ids

MAX_CHUNK_ATTEMPTS = 3  # deliveries of one scoring chunk before the run is failed


def run_plan_chunks(run_id: int) -> list[RunChunk]:
    """Split the candidates into scoring chunks (none for the uniform strategy, which does not
    use scores)."""
    run = stage_enter(run_id, RunStage.SCORE, "listing candidates to score")
    ids = candidate_ids(run.project)
    size = run.params["score_chunk_size"]
    chunks = []
    if run.params["strategy"] != Strategy.UNIFORM:
        # with the disagreement queue on, the labeled solutions are scored too: its rule
        # compares their labels with the new model (labeling/services/disagreement.py)
        to_score = ids
        if run.project.disagreement_budget:
            to_score = sorted({*ids, *labeled_solution_ids(run.project)})
        # with hints on, the gold solutions too: quality-control tasks show (and record) the
        # current model's hint like any task, so the hinted/unhinted comparison of agreement
        # with gold has data (docs/model-assisted.md); gold is never a candidate
        if run.project.hints_enabled:
            gold = GoldLabel.objects.filter(solution__project=run.project)
            to_score = sorted({*to_score, *gold.values_list("solution_id", flat=True)})
        chunks = [
            RunChunk(run=run, index=i, solution_ids=to_score[start : start + size])
            for i, start in enumerate(range(0, len(to_score), size))
        ]
    with transaction.atomic():
        RunChunk.objects.filter(run=run).delete()
        RunChunk.objects.bulk_create(chunks)
        Run.objects.filter(pk=run_id).update(candidates=len(ids), chunks_total=len(chunks))
    run_log(
        run_id,
        f"{len(ids)} candidates; "
        + (
            f"{len(chunks)} scoring chunk(s) of up to {size}"
            if chunks or run.params["strategy"] != Strategy.UNIFORM
            else "the uniform strategy does not score them"
        ),
    )
    return list(RunChunk.objects.filter(run=run).order_by("index"))


def run_score_chunk(run_id: int, chunk_id: int) -> bool:
    """Score one chunk with the run's version (safe to run twice). True when this call found
    every chunk of the run done, so the caller moves the run on to selection."""
    from active_learning.services.scoring import solutions_score

    run = Run.objects.select_related("model_version").get(pk=run_id)
    if run.status != RunStatus.RUNNING:
        return False
    chunk = RunChunk.objects.get(pk=chunk_id, run=run)
    progress = StageProgress(run, RunStage.SCORE)
    total = max(run.chunks_total, 1)
    if not chunk.done:
        RunChunk.objects.filter(pk=chunk.pk).update(attempts=F("attempts") + 1)
        if chunk.attempts + 1 > MAX_CHUNK_ATTEMPTS:
            raise ApplicationError(
                f"scoring chunk {chunk.index} was started {MAX_CHUNK_ATTEMPTS} times and its "
                "worker died each time (out of memory?); lower 'Solutions per scoring task'"
            )
        ids = list(chunk.solution_ids)
        candidates = max(run.candidates, 1)

        def report(scored: int, of: int) -> None:
            # progress and the heartbeat move with every bulk write of a large chunk
            done = RunChunk.objects.filter(run=run, done=True).count()
            progress(
                (done + scored / max(of, 1)) / total,
                note=f"scoring chunk {chunk.index + 1}/{total}: {scored}/{of} solutions"
                f" (pool of {candidates})",
            )

        figures = solutions_score(version=run.model_version, solution_ids=ids, progress=report)
        _add_scoring_throughput(run_id, figures)
        RunChunk.objects.filter(pk=chunk.pk).update(done=True)
    done = RunChunk.objects.filter(run=run, done=True).count()
    progress(done / total, force=True)
    return done >= run.chunks_total


def _add_scoring_throughput(run_id: int, figures: dict) -> None:
    """Sum one chunk's scoring figures into the run's (chunks may run on several workers:
    seconds add up as worker-seconds, so the rates are per worker)."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        so_far = dict((run.throughput or {}).get("scoring") or {})
        total = {
            key: so_far.get(key, 0) + (figures.get(key) or 0)
            for key in ("solutions", "tokens", "labeled_steps", "seconds", "from_cache")
        }
        seconds = total["seconds"] or 0
        total.update(
            solutions_per_second=total["solutions"] / seconds if seconds else None,
            tokens_per_second=total["tokens"] / seconds if seconds else None,
            device=figures.get("device"),
            parameters=figures.get("parameters"),
            peak_memory_bytes=max(
                so_far.get("peak_memory_bytes", 0), figures.get("peak_memory_bytes") or 0
            ),
        )
        peak = figures.get("peak_flops")
        total["mfu"] = (
            2 * figures["parameters"] * total["tokens_per_second"] / peak
            if peak and total["tokens_per_second"] and figures.get("parameters")
            else None
        )
        run.throughput = {**(run.throughput or {}), "scoring": total}
        run.save(update_fields=["throughput", "updated_at"])
