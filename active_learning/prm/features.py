"""A cache of frozen-backbone features (no Django).

In `head` mode the backbone never changes, so the hidden state it gives each step's label token
is the same in every round of the active-learning loop: only the head is retrained. This cache
keeps those hidden states per encoded input, keyed by a fingerprint of the backbone's weights
and the exact input ids, so a cached feature is only ever reused for the same weights and the
same tokens (a fine-tuned backbone simply misses). Training
(`head_training.backbone_features`) and scoring (`scoring.score`) consult the cache while one is
active:

    with features.cached(FeatureCache(path)):
        ...  # train in head mode, score, evaluate: each input goes through the backbone once

Scores through the cache equal uncached ones (the head of a token-classification model is
applied to the backbone's last hidden state; dropout is off in evaluation); a test checks it.
"""

import hashlib
import os
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from active_learning.prm.batching import collate
from active_learning.prm.tokenization import IGNORE, Encoded

_active: "FeatureCache | None" = None


def head_module(model):
    head = getattr(model, "score", None) or getattr(model, "classifier", None)
    if head is None:
        raise ValueError("the model has no classification head named score or classifier")
    return head


_fingerprints: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def backbone_fingerprint(model) -> str:
    """sha256 over the backbone's parameter names, dtypes, shapes and bytes (head excluded).
    Remembered per module until a tensor is replaced or changed in place (torch counts
    in-place changes in each tensor's version)."""
    base = getattr(model, model.base_model_prefix)
    state = base.state_dict()
    signature = tuple((n, t.data_ptr(), t._version) for n, t in state.items())
    known = _fingerprints.get(base)
    if known is not None and known[0] == signature:
        return known[1]
    digest = hashlib.sha256()
    for name, tensor in sorted(state.items()):
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    _fingerprints[base] = (signature, digest.hexdigest())
    return digest.hexdigest()


class FeatureCache:
    """Hidden states at each kept step's label token, one [steps, hidden] float32 tensor per
    (backbone, input ids). `path`, if given, is loaded at start and written by `save()` (and
    every few minutes while new features are computed)."""

    SAVE_EVERY_SECONDS = 120

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else None
        self.store: dict[str, torch.Tensor] = {}
        self.hits = self.misses = 0
        self._saved_at = time.monotonic()
        if self.path is not None and self.path.exists():
            self.store = torch.load(self.path, weights_only=True)

    def __len__(self) -> int:
        return len(self.store)

    def save(self) -> None:
        """Write the cache, merged with what other processes saved meanwhile (several scoring
        workers fill one project's cache in parallel, each with its own chunk): under an
        exclusive lock, read the file, add its entries this process lacks, write a temporary
        file and rename it into place."""
        if self.path is None:
            return
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if self.path.exists():
                    on_disk = torch.load(self.path, weights_only=True)
                    for key, value in on_disk.items():
                        self.store.setdefault(key, value)
                partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.partial")
                torch.save(self.store, partial)
                partial.replace(self.path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        self._saved_at = time.monotonic()

    @staticmethod
    def _key(fingerprint: str, encoded: Encoded) -> str:
        ids = torch.tensor(encoded.input_ids, dtype=torch.int64).numpy().tobytes()
        return hashlib.sha256(fingerprint.encode() + b":" + ids).hexdigest()

    def step_features(
        self, model, encoded: list[Encoded], pad_id: int, batch_size: int = 16
    ) -> list[torch.Tensor]:
        """One [len(step_ends), hidden] tensor per encoded input, computing only the missing."""
        fingerprint = backbone_fingerprint(model)
        keys = [self._key(fingerprint, e) for e in encoded]
        missing = [i for i, key in enumerate(keys) if key not in self.store]
        self.hits += len(encoded) - len(missing)
        self.misses += len(missing)
        if missing:
            device = next(model.parameters()).device
            base = getattr(model, model.base_model_prefix)
            was_training = base.training
            base.eval()
            # longest first: batches of similar length waste less padding
            missing.sort(key=lambda i: -len(encoded[i].input_ids))
            with torch.inference_mode():
                for start in range(0, len(missing), batch_size):
                    chunk = missing[start : start + batch_size]
                    inputs = collate([encoded[i] for i in chunk], pad_id)
                    hidden = base(
                        input_ids=inputs["input_ids"].to(device),
                        attention_mask=inputs["attention_mask"].to(device),
                    ).last_hidden_state.float()
                    for row, i in enumerate(chunk):
                        ends = encoded[i].step_ends
                        self.store[keys[i]] = hidden[row, ends].cpu().clone()
            base.train(was_training)
            if time.monotonic() - self._saved_at > self.SAVE_EVERY_SECONDS:
                self.save()  # a long first pass that is stopped keeps what it computed
        return [self.store[key] for key in keys]

    def labeled_features(
        self, model, encoded: list[Encoded], pad_id: int, batch_size: int = 16
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(features, labels) of the labeled steps, in input order (as
        `head_training.backbone_features`)."""
        rows, labels = [], []
        for e, hidden in zip(
            encoded, self.step_features(model, encoded, pad_id, batch_size), strict=True
        ):
            keep = [k for k, pos in enumerate(e.step_ends) if e.labels[pos] != IGNORE]
            rows.append(hidden[keep])
            labels.extend(e.labels[e.step_ends[k]] for k in keep)
        width = rows[0].shape[-1] if rows else 0
        features = torch.cat(rows) if rows else torch.empty(0, width)
        return features, torch.tensor(labels, dtype=torch.long)


def active() -> FeatureCache | None:
    return _active


@contextmanager
def cached(cache: FeatureCache) -> Iterator[FeatureCache]:
    """Make `cache` the one training and scoring use until the block ends."""
    global _active
    previous, _active = _active, cache
    try:
        yield cache
    finally:
        _active = previous
