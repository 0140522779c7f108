"""The feature-cache warm-up (`active_learning/loop/warm.py`)."""

import pytest

from active_learning.loop import candidates, in_process, warm
from tests.active_learning.conftest import loop_project

pytestmark = pytest.mark.django_db


def test_warming_the_feature_cache_makes_the_first_run_score_from_it(
    tiny_backbone, loop_models_dir
):
    """The demo warms the cache while the first labels come in (setup_demo_loop queues
    prm_features_warm): the first run then runs no backbone pass over the pool."""

    project, _pool = loop_project(tiny_backbone)
    warmed = warm.features_warm(project)
    assert warmed["solutions"] == len(candidates.candidate_ids(project)) == warmed["computed"]
    assert warm.features_warm(project)["computed"] == 0  # idempotent
    run = in_process.run_round(project)
    assert run.throughput["scoring"]["from_cache"] == run.candidates


def test_warming_is_skipped_outside_head_mode(tiny_backbone, loop_models_dir):

    project, _pool = loop_project(tiny_backbone, training_mode="full")
    assert warm.features_warm(project)["skipped"] == "not head mode"


def test_warming_announces_its_progress_and_clears_it_when_done(
    tiny_backbone, loop_models_dir, monkeypatch
):
    """The loop page reads the warm-up's progress from its announcement (warmup.record): the
    warm-up says "running, done of total" after every window of solutions, and removes the
    announcement at the end, even when it fails (else a run would "wait" for a dead warm-up)."""
    from active_learning import warmup

    project, _pool = loop_project(tiny_backbone)
    total = len(candidates.candidate_ids(project))
    monkeypatch.setattr(warm, "WARM_WINDOW", 8)
    seen = []
    real = warmup.record

    def spy(project_id, backbone, state, done=0, total=None):
        real(project_id, backbone, state, done, total)
        seen.append((state, done, total, warmup.status(project)))

    monkeypatch.setattr(warmup, "record", spy)
    warm.features_warm(project)
    running = [(done, of) for state, done, of, _ in seen if state == "running"]
    assert running == [(0, total), *[(d, total) for d in range(8, total + 1, 8)]]
    assert all(now is not None and now["done"] == done for _, done, _, now in seen[:-1])
    assert seen[-1][0] == "done" and warmup.status(project) is None

    def broken(*args, **kwargs):
        raise RuntimeError("backbone gone")

    monkeypatch.setattr(warm, "_features_warm", broken)
    with pytest.raises(RuntimeError):
        warm.features_warm(project)
    assert seen[-1][0] == "done" and warmup.status(project) is None
