"""The frozen-backbone feature cache: cached training and scores equal uncached ones."""

import torch

from active_learning.prm import features
from active_learning.prm.model import load_checkpoint, save_checkpoint, tiny_model
from active_learning.prm.scoring import score
from active_learning.prm.tokenization import StepTokenizer
from active_learning.prm.training import TrainConfig, train
from tests.active_learning.prm.conftest import synthetic_examples


def _scores(model, step_tokenizer, examples):
    return [s.probabilities for s in score(model, step_tokenizer, examples, batch_size=4)]


def test_cached_scores_equal_uncached_ones(tokenizer, tmp_path):
    model = tiny_model(tokenizer, seed=5).eval()
    step_tokenizer = StepTokenizer(tokenizer, max_length=128)  # some examples get truncated
    examples = synthetic_examples(30, 7)
    plain = _scores(model, step_tokenizer, examples)
    cache = features.FeatureCache(tmp_path / "features.pt")
    with features.cached(cache):
        first = _scores(model, step_tokenizer, examples)
        assert (cache.misses, cache.hits) == (30, 0)
        again = _scores(model, step_tokenizer, examples)
        assert (cache.misses, cache.hits) == (30, 30)  # the backbone ran once per input
    assert features.active() is None
    for a, b, c in zip(plain, first, again, strict=True):
        assert torch.allclose(torch.tensor(a), torch.tensor(b), atol=1e-5)
        assert b == c
    # written and read back: a new process reuses the features
    cache.save()
    reloaded = features.FeatureCache(tmp_path / "features.pt")
    assert len(reloaded) == 30
    with features.cached(reloaded):
        assert _scores(model, step_tokenizer, examples) == first
    assert reloaded.misses == 0


def test_a_changed_backbone_never_reuses_features(tokenizer):
    model = tiny_model(tokenizer, seed=5).eval()
    step_tokenizer = StepTokenizer(tokenizer, max_length=256)
    examples = synthetic_examples(6, 1)
    cache = features.FeatureCache()
    with features.cached(cache):
        before = _scores(model, step_tokenizer, examples)
        with torch.no_grad():
            model.model.layers[0].mlp.up_proj.weight.mul_(1.5)  # in place: same tensor
        after = _scores(model, step_tokenizer, examples)
    assert cache.misses == 12 and cache.hits == 0
    assert after != before
    with torch.no_grad():
        expected = _scores(model, step_tokenizer, examples)
    for a, b in zip(after, expected, strict=True):
        assert torch.allclose(torch.tensor(a), torch.tensor(b), atol=1e-5)


def test_head_training_through_the_cache_equals_plain_head_training(tokenizer, tmp_path):
    step_tokenizer = StepTokenizer(tokenizer, max_length=256)
    train_set, val_set = synthetic_examples(60, 1), synthetic_examples(20, 2)
    config = TrainConfig(mode="head", epochs=3, batch_size=16, seed=0)
    plain, plain_report = train(tiny_model(tokenizer), step_tokenizer, train_set, val_set, config)
    cache = features.FeatureCache()
    with features.cached(cache):
        cached, cached_report = train(
            tiny_model(tokenizer), step_tokenizer, train_set, val_set, config
        )
        # the saved and reloaded checkpoint hits the same features (same backbone weights)
        save_checkpoint(cached, tokenizer, tmp_path / "ckpt", {"settings": {}})
        loaded, _, _ = load_checkpoint(tmp_path / "ckpt")
        misses = cache.misses
        from_checkpoint = _scores(loaded, step_tokenizer, val_set)
        assert cache.misses == misses
    assert misses == 80
    assert abs(plain_report.best_val_loss - cached_report.best_val_loss) < 1e-4
    for a, b in zip(
        plain.score.weight.flatten().tolist(), cached.score.weight.flatten().tolist(), strict=True
    ):
        assert abs(a - b) < 1e-4
    for a, b in zip(_scores(plain, step_tokenizer, val_set), from_checkpoint, strict=True):
        assert torch.allclose(torch.tensor(a), torch.tensor(b), atol=1e-4)


def test_a_long_first_pass_saves_as_it_goes(tokenizer, tmp_path):
    model = tiny_model(tokenizer, seed=5).eval()
    step_tokenizer = StepTokenizer(tokenizer, max_length=256)
    cache = features.FeatureCache(tmp_path / "features.pt")
    cache.SAVE_EVERY_SECONDS = 0
    with features.cached(cache):
        _scores(model, step_tokenizer, synthetic_examples(5, 1))
    assert len(features.FeatureCache(tmp_path / "features.pt")) == 5  # no explicit save()


def test_two_processes_saving_one_cache_keep_each_others_features(tmp_path):
    """Scoring chunks run in several worker processes, each filling the same cache file: a
    save must not drop what another process saved meanwhile."""
    import torch

    from active_learning.prm.features import FeatureCache

    path = tmp_path / "cache.pt"
    first, second = FeatureCache(path), FeatureCache(path)  # both start empty
    first.store["a"] = torch.zeros(1, 2)
    second.store["b"] = torch.ones(1, 2)
    first.save()
    second.save()
    assert set(FeatureCache(path).store) == {"a", "b"}


def test_head_training_through_the_cache_reports_every_feature_batch(tokenizer):
    """Through the feature cache the features phase reported once, at its end: in the demo's
    15-second training stage the bar sat at 0% for 13 s, then jumped to 35% and 70%. Now a
    fake progress sink sees one "features" report per batch of the training and validation
    inputs, numbered 1..N of N, then the head's steps, cold cache or warm."""
    step_tokenizer = StepTokenizer(tokenizer, max_length=256)
    train_set, val_set = synthetic_examples(40, 1), synthetic_examples(12, 2)
    config = TrainConfig(mode="head", epochs=2, batch_size=8, seed=0)
    cache = features.FeatureCache()
    with features.cached(cache):
        for _ in ("cold", "warm"):
            seen = []
            train(tiny_model(tokenizer), step_tokenizer, train_set, val_set, config, seen.append)
            feature_steps = [(p.step, p.total_steps) for p in seen if p.phase == "features"]
            assert feature_steps == [(i, 7) for i in range(1, 8)]  # 5 training + 2 validation
            assert seen[0].phase == "features" and seen[-1].phase == "train"
            assert next(p.step for p in seen if p.phase == "train") == 1
    assert cache.hits == 52  # the second pass read every input from the cache
