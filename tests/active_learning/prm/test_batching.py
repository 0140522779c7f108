"""Batches by tokens: the budget binds, every example once per epoch, length-grouped."""

import pytest

from active_learning.prm.batching import (
    TokenBudgetBatchSampler,
    batch_tokens,
    token_budget_batches,
)

# very different lengths, interleaved: 3 long, 10 medium, 40 short examples
LENGTHS = [400 if i % 17 == 0 else 100 if i % 5 == 0 else 20 for i in range(53)]


def test_scoring_batches_respect_the_token_budget_and_group_similar_lengths():
    lengths = [10, 200, 15, 190, 12, 400, 11]
    batches = token_budget_batches(lengths, token_budget=400, max_rows=3)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) * max(lengths[i] for i in batch) <= 400 or len(batch) == 1
    assert batches[0] == [5]  # the longest alone
    assert set(batches[1]) == {1, 3}  # the two ~200-token ones together


@pytest.mark.parametrize("padded", [True, False])
def test_no_batch_exceeds_the_budget_and_every_example_is_used_once_per_epoch(padded):
    """A fixed number of examples per batch would put 8 x 400 = 3200 tokens in one batch or
    starve the short ones; by tokens, the long examples go in narrow batches and the short
    ones in wide batches. Would catch a batch over budget, a dropped or doubled example, or
    batches that are not grouped by length (wasted padding)."""
    budget = 800
    sampler = TokenBudgetBatchSampler(LENGTHS, budget, padded=padded, seed=3)
    orders = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        used = sorted(i for batch in batches for i in batch)
        assert used == list(range(len(LENGTHS))), f"epoch {epoch}: not every example once"
        for batch in batches:
            lengths = [LENGTHS[i] for i in batch]
            assert sum(lengths) <= batch_tokens(lengths, padded) <= budget
        sizes = {len(batch) for batch in batches}
        assert min(sizes) <= 2 and max(sizes) >= 8  # the budget, not a row count, decides
        if padded:  # grouped by length: no short example padded to a long one's width
            wasted = sum(batch_tokens([LENGTHS[i] for i in b], True) for b in batches)
            assert wasted - sum(LENGTHS) <= 2 * 400
        orders.append(batches)
    assert orders[0] != orders[1]  # reshuffled every epoch


def test_the_processes_of_a_distributed_run_share_the_batches_without_overlap():
    """Every process must run the same number of batches (else DDP waits forever), and together
    they use every example once: the batch count is evened out by splitting a wide batch."""
    whole = TokenBudgetBatchSampler(LENGTHS, 800, seed=1).batches()
    ranks = [
        TokenBudgetBatchSampler(LENGTHS, 800, seed=1, num_replicas=3, rank=r) for r in range(3)
    ]
    assert len({len(r) for r in ranks}) == 1
    assert len(whole) % 3 != 0  # the evening-out binds in this case
    used = sorted(i for r in ranks for batch in r for i in batch)
    assert used == list(range(len(LENGTHS)))


def test_a_budget_below_one_or_no_examples_is_refused():
    with pytest.raises(ValueError, match="token_budget"):
        TokenBudgetBatchSampler([10], 0)
    with pytest.raises(ValueError, match="no examples"):
        TokenBudgetBatchSampler([], 100)
