"""Training a PRM (no Django): the entry point that picks the mode's trainer.

Cross-entropy at the step label tokens, fixed seeds, early stopping on a validation split (the
caller passes one that is *not* the split whose metrics it reports), and a progress callback
(step, loss, ETA, epoch) that a Celery task forwards to the UI.

Modes:
- `full` and `lora` run on `transformers.Trainer` (`trainer`): fp32 master weights with bf16
  autocast, packing or length-grouped padding, token-budget batches (`batching`), gradient
  checkpointing and accumulation, early stopping, resume, DDP or FSDP under torchrun.
- `lora`: low-rank adapters (peft) on the attention and MLP projections plus the head; its own
  default learning rate (2e-4; LoRA wants about 1e-4..2e-4, full fine-tuning about 2e-5). The
  returned model has the adapters merged.
- `head` (`head_training`): the backbone is frozen and run once; only the classification head
  trains, on the cached hidden states at the label tokens. This is what makes CPU retraining
  take seconds.
"""

import random
import time
from collections.abc import Callable

import numpy as np
import torch

from active_learning.prm.data import Example
from active_learning.prm.head_training import train_head
from active_learning.prm.tokenization import IGNORE, Encoded, StepTokenizer
from active_learning.prm.train_config import (
    DEFAULT_LEARNING_RATE,
    FSDP_STRATEGIES,
    MODES,
    PRECISIONS,
    Progress,
    TrainConfig,
    TrainReport,
)
from active_learning.prm.trainer import train_with_trainer

__all__ = [
    "DEFAULT_LEARNING_RATE",
    "FSDP_STRATEGIES",
    "MODES",
    "PRECISIONS",
    "Progress",
    "TrainConfig",
    "TrainReport",
    "seed_everything",
    "train",
]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def _with_labels(encoded: list[Encoded]) -> list[Encoded]:
    return [e for e in encoded if any(label != IGNORE for label in e.labels)]


def train(
    model,
    step_tokenizer: StepTokenizer,
    train_examples: list[Example],
    val_examples: list[Example],
    config: TrainConfig,
    progress: Callable[[Progress], None] | None = None,
):
    """Train; returns (model, TrainReport). `val_examples` decide early stopping and the best
    weights, so they must not be the examples whose metrics are reported. In `lora` mode the
    returned model is the adapters merged into the backbone; in `full` mode it holds fp32
    weights whatever dtype it was loaded in.

    Raises ValueError when no training example has a labeled step, or (under torchrun) when
    the processes hold different training examples."""
    seed_everything(config.seed)
    started = time.monotonic()
    train_encoded = _with_labels(step_tokenizer.encode_many(list(train_examples)))
    val_encoded = _with_labels(step_tokenizer.encode_many(list(val_examples)))
    if not train_encoded:
        raise ValueError("no training example has a labeled step")
    if config.mode == "head":
        report = train_head(model, step_tokenizer, train_encoded, val_encoded, config, progress)
        report.seconds = time.monotonic() - started
        return model, report
    return train_with_trainer(model, step_tokenizer, train_encoded, val_encoded, config, progress)
