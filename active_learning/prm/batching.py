"""Batches for training and scoring: padding, flattening and token budgets (no Django).

- `collate` / `PaddingCollator`: right-padded batches as wide as their longest example (a causal
  model's earlier positions never see the padding).
- `flattening_collator`: transformers' padding-free `DataCollatorWithFlattening` (one row per
  batch, position ids restarting at every example), used where a varlen attention kernel makes
  it pay (`supports_packing`).
- `token_budget_batches` / `TokenBudgetBatchSampler`: batches built by tokens rather than by a
  number of examples, grouped by length, as in Fairseq's `--max-tokens` batching (Ott et al.
  2019, "fairseq", section 3) and the token-bucketed batches of Vaswani et al. 2017 ("Attention
  Is All You Need", section 5.1: "sentence pairs were batched together by approximate sequence
  length ... approximately 25000 source tokens"). A batch of short solutions is then wide and a
  batch of long ones narrow, so a budget that fits the device's memory for the longest input is
  not wasted on the short ones.
"""

import random
from collections.abc import Iterator

import torch

from active_learning.prm.tokenization import IGNORE, Encoded

# Decoder architectures whose attention masks separate packed examples by their position ids
# (transformers' masking_utils.find_packed_sequence_indices, with SDPA, eager, flex or
# FlashAttention varlen). Others fall back to length-grouped dynamic padding.
PACKING_MODEL_TYPES = frozenset(
    {
        "llama",
        "mistral",
        "qwen2",
        "qwen3",
        "qwen2_moe",
        "qwen3_moe",
        "gemma",
        "gemma2",
        "gemma3_text",
        "phi3",
        "olmo",
        "olmo2",
        "granite",
        "smollm3",
    }
)
VARLEN_ATTENTION = frozenset({"flash_attention_2", "flash_attention_3", "flex_attention"})
# Examples drawn at random and sorted by length together before they are cut into token-budget
# batches: large enough that neighbours in a batch have similar lengths (little padding), small
# enough that each epoch's batches differ (the LengthGroupedSampler idea of transformers, whose
# megabatches are 50 batches).
MEGABATCH_EXAMPLES = 1024


def collate(encoded: list[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded batch: input_ids, attention_mask, labels, each [rows, longest length]."""
    width = max(len(e.input_ids) for e in encoded)
    ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    labels = torch.full((len(encoded), width), IGNORE, dtype=torch.long)
    for row, e in enumerate(encoded):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        mask[row, :n] = 1
        labels[row, :n] = torch.tensor(e.labels)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def batch_tokens(lengths: list[int], padded: bool) -> int:
    """Tokens a batch of examples of these lengths costs: rows x longest when padded, the sum
    of the lengths when flattened."""
    return len(lengths) * max(lengths) if padded else sum(lengths)


def token_budget_batches(
    lengths: list[int],
    token_budget: int,
    max_rows: int | None = None,
    *,
    padded: bool = True,
    order: list[int] | None = None,
) -> list[list[int]]:
    """Indices into `lengths` cut into batches of at most `token_budget` tokens (see
    `batch_tokens`; a single example longer than the budget is a batch of its own) and at most
    `max_rows` rows. `order` (default: longest first) is the order the indices are taken in;
    batches are consecutive runs of it, so a length-sorted order gives length-grouped batches."""
    if order is None:
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        full = max_rows is not None and len(current) >= max_rows
        widened = [lengths[j] for j in current] + [lengths[i]]
        if current and (full or batch_tokens(widened, padded) > token_budget):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


class TokenBudgetBatchSampler(torch.utils.data.Sampler):
    """Training batches of at most `token_budget` tokens each (padded: rows x longest; flattened:
    the sum of lengths), length-grouped, every example exactly once per epoch.

    Each epoch: the examples are shuffled (seed + epoch), taken MEGABATCH_EXAMPLES at a time,
    sorted by length within that group, cut into budget batches, and the batches shuffled. For
    `num_replicas` processes (DDP / FSDP) the batch count is made a multiple of `num_replicas`
    by splitting the batches with the most rows (every process must run the same number of
    steps); only when no batch has two rows left to split are the first batches repeated. Process
    `rank` gets every `num_replicas`-th batch. All processes compute the same batches from the
    same seed: no communication.

    lengths: tokens per example (Encoded.input_ids lengths). Raises ValueError for a budget
    below 1 or an empty dataset."""

    def __init__(
        self,
        lengths: list[int],
        token_budget: int,
        *,
        padded: bool = True,
        shuffle: bool = True,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        megabatch: int = MEGABATCH_EXAMPLES,
    ):
        if token_budget < 1:
            raise ValueError("token_budget must be at least 1")
        if not lengths:
            raise ValueError("no examples to batch")
        self.lengths, self.token_budget, self.padded = list(lengths), token_budget, padded
        self.shuffle, self.seed, self.megabatch = shuffle, seed, megabatch
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch = 0
        self._cache: tuple[int, list[list[int]]] | None = None
        # accelerate's DataLoaderShard.set_epoch reaches a batch sampler it wraps (in a
        # BatchSamplerShard) only through that sampler's `.sampler.set_epoch`
        self.sampler = _EpochHook(self)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        """This epoch's batches for every process (before the split by rank)."""
        if self._cache is not None and self._cache[0] == self.epoch:
            return self._cache[1]
        rng = random.Random(self.seed + self.epoch)
        order = list(range(len(self.lengths)))
        if self.shuffle:
            rng.shuffle(order)
        batches: list[list[int]] = []
        for start in range(0, len(order), self.megabatch):
            group = sorted(order[start : start + self.megabatch], key=lambda i: -self.lengths[i])
            batches.extend(
                token_budget_batches(
                    self.lengths, self.token_budget, padded=self.padded, order=group
                )
            )
        if self.shuffle:
            rng.shuffle(batches)
        repeated = 0
        while len(batches) % self.num_replicas:
            widest = max(range(len(batches)), key=lambda b: len(batches[b]))
            if len(batches[widest]) < 2:
                batches.append(batches[repeated])
                repeated += 1
                continue
            half = len(batches[widest]) // 2
            batches[widest : widest + 1] = [batches[widest][:half], batches[widest][half:]]
        self._cache = (self.epoch, batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.batches()[self.rank :: self.num_replicas]

    def __len__(self) -> int:
        return len(self.batches()) // self.num_replicas


class _EpochHook:
    def __init__(self, owner: TokenBudgetBatchSampler):
        self.set_epoch = owner.set_epoch


class TrainingRows(torch.utils.data.Dataset):
    """Encoded examples as the dicts Trainer's collators take."""

    def __init__(self, encoded: list[Encoded]):
        self.encoded = encoded

    def __len__(self) -> int:
        return len(self.encoded)

    def __getitem__(self, i: int) -> dict:
        e = self.encoded[i]
        return {"input_ids": e.input_ids, "labels": e.labels}

    def lengths(self) -> list[int]:
        return [len(e.input_ids) for e in self.encoded]


class PaddingCollator:
    """Right-padded batches (dynamic: as wide as the batch's longest example)."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, rows: list[dict]) -> dict:
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[i, :n] = torch.tensor(r["input_ids"])
            mask[i, :n] = 1
            labels[i, :n] = torch.tensor(r["labels"])
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def supports_packing(model) -> bool:
    """Whether flattened, padding-free batches pay off for this model: a decoder whose attention
    separates packed examples by their position ids (PACKING_MODEL_TYPES) *and* a varlen
    attention kernel (FlashAttention 2/3 or flex attention), which skips the cross-example
    blocks. SDPA and eager also keep packed examples apart (a test checks the loss), but with a
    dense mask over the whole flattened row: attention then costs (sum of lengths)^2 instead of
    the sum of squares (measured on CPU: a 4 x 400-token batch took 3x as long packed), so they
    get length-grouped dynamic padding instead."""
    config = model.config
    implementation = getattr(config, "_attn_implementation", None) or "sdpa"
    return config.model_type in PACKING_MODEL_TYPES and implementation in VARLEN_ATTENTION


def flattening_collator(model=None):
    """transformers' DataCollatorWithFlattening: one row per batch, position ids restarting at
    every example (FlashAttention also gets the cu_seq_lens it needs)."""
    from transformers import DataCollatorWithFlattening

    implementation = getattr(getattr(model, "config", None), "_attn_implementation", "") or ""
    # separator IGNORE: the first token of each example is never a label (it is the problem's
    # start), so nothing is lost by marking example boundaries there
    return DataCollatorWithFlattening(
        separator_id=IGNORE, return_flash_attn_kwargs=implementation.startswith("flash")
    )


def make_collator(model, pad_id: int, packing: bool):
    """(collator, "flattened" | "length-grouped")."""
    if packing and supports_packing(model):
        return flattening_collator(model), "flattened"
    return PaddingCollator(pad_id), "length-grouped"
