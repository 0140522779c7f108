"""Scoring at pool scale: length-sorted token-budget batches, one tokenizer call, input order."""

import torch

from active_learning.prm.model import tiny_model
from active_learning.prm.scoring import ScoreStats, score
from active_learning.prm.tokenization import StepTokenizer
from tests.active_learning.prm.conftest import synthetic_examples


def test_one_batched_tokenizer_call_encodes_as_piece_by_piece(tokenizer):
    step_tokenizer = StepTokenizer(tokenizer, max_length=50)
    examples = synthetic_examples(30, seed=9)
    assert step_tokenizer.encode_many(examples) == [
        step_tokenizer.encode_many([e])[0] for e in examples
    ]
    assert any(e.truncated for e in step_tokenizer.encode_many(examples))


def test_scores_do_not_depend_on_batch_composition_or_order(tokenizer):
    """Sorted, token-budget batches must give every solution the scores it gets alone, in
    input order."""
    torch.manual_seed(0)
    model = tiny_model(tokenizer).eval()
    step_tokenizer = StepTokenizer(tokenizer, max_length=256)
    examples = synthetic_examples(25, seed=3)
    stats = ScoreStats()
    together = list(score(model, step_tokenizer, examples, batch_size=8, stats=stats))
    alone = [next(score(model, step_tokenizer, [e], batch_size=1)) for e in examples]
    small_windows = list(score(model, step_tokenizer, examples, batch_size=3, window=7))
    for a, b, c in zip(together, alone, small_windows, strict=True):
        assert len(a.step_scores) == len(b.step_scores) == len(c.step_scores)
        assert torch.allclose(torch.tensor(a.step_scores), torch.tensor(b.step_scores), atol=1e-5)
        assert torch.allclose(torch.tensor(a.step_scores), torch.tensor(c.step_scores), atol=1e-5)
    assert stats.solutions == 25 and stats.batches >= 4
    assert stats.tokens <= stats.padded_tokens
