"""`head` mode: a classifier trained on frozen backbone features (no Django).

The backbone is frozen and run once per input (through the feature cache when one is active,
see `features`); only the classification head trains, on the hidden states at the label
tokens, with AdamW, linear warmup and decay, and early stopping on the validation features.
This is what makes CPU retraining take seconds.
"""

import math
import time
from dataclasses import asdict

import torch

from active_learning.prm import features as features_cache
from active_learning.prm import throughput
from active_learning.prm.batching import collate
from active_learning.prm.tokenization import IGNORE
from active_learning.prm.train_config import Progress, TrainReport

HEAD_MINIBATCH = 256  # labeled steps per head update (features are small: hidden-size vectors)


class EarlyStopping:
    """Keeps the weights with the best held-out loss; says stop after `patience` evaluations
    without a better one (head mode; Trainer has its own)."""

    MIN_IMPROVEMENT = 1e-6

    def __init__(self, module: torch.nn.Module, patience: int):
        self.module, self.patience = module, patience
        self.best_loss: float | None = None
        self.best_state: dict | None = None
        self.bad = 0

    def should_stop(self, loss: float) -> bool:
        if self.best_loss is None or loss < self.best_loss - self.MIN_IMPROVEMENT:
            self.best_loss, self.bad = loss, 0
            self.best_state = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
            return False
        self.bad += 1
        return self.bad >= self.patience

    def restore_best(self) -> None:
        if self.best_state is not None:
            self.module.load_state_dict(self.best_state)


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _schedule(optimizer, total_steps: int, warmup_ratio: float):
    warmup = max(1, int(total_steps * warmup_ratio))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def backbone_features(model, step_tokenizer, encoded, batch_size, progress, phase_total, done=0):
    """Hidden states (after the backbone's final norm) at the label tokens, and their labels;
    through the active feature cache, if any (see `features`). `progress` gets a "features"
    report after every batch of `batch_size` inputs, numbered from `done` + 1 of
    `phase_total` (the training and validation batches together), cached or not: a cache that
    still misses some inputs runs the backbone for them, and a report only at the end left the
    bar at 0% through that pass."""
    cache = features_cache.active()
    features, labels = [], []
    device = next(model.parameters()).device
    base = getattr(model, model.base_model_prefix)
    base.eval()
    for i, start in enumerate(range(0, len(encoded), batch_size)):
        batch = encoded[start : start + batch_size]
        if cache is not None:
            x, y = cache.labeled_features(model, batch, step_tokenizer.pad_id, batch_size)
        else:
            inputs = collate(batch, step_tokenizer.pad_id)
            with torch.inference_mode(), _autocast(device):
                hidden = base(
                    input_ids=inputs["input_ids"].to(device),
                    attention_mask=inputs["attention_mask"].to(device),
                ).last_hidden_state
            mask = inputs["labels"] != IGNORE
            x, y = hidden.float()[mask.to(device)].cpu(), inputs["labels"][mask]
        features.append(x)
        labels.append(y)
        if progress:
            step = min(done + i + 1, phase_total)
            progress(Progress(step, phase_total, 0.0, None, 0.0, phase="features"))
    return torch.cat(features), torch.cat(labels)


def train_head(model, step_tokenizer, train_encoded, val_encoded, config, progress) -> TrainReport:
    """Train only the classification head of `model` in place; the report's `seconds` is left
    to the caller (it includes the encoding)."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    head = features_cache.head_module(model)
    for parameter in head.parameters():
        parameter.requires_grad_(True)
    train_batches = math.ceil(len(train_encoded) / config.batch_size)
    batches = train_batches + math.ceil(len(val_encoded) / config.batch_size)
    x_train, y_train = backbone_features(
        model, step_tokenizer, train_encoded, config.batch_size, progress, batches
    )
    x_val, y_val = (
        backbone_features(
            model, step_tokenizer, val_encoded, config.batch_size, progress, batches, train_batches
        )
        if val_encoded
        else (None, None)
    )
    device = next(model.parameters()).device
    head_started = time.monotonic()
    head.train()
    optimizer = torch.optim.AdamW(
        head.parameters(), lr=config.effective_learning_rate, weight_decay=config.weight_decay
    )
    generator = torch.Generator().manual_seed(config.seed)
    per_epoch = math.ceil(len(y_train) / HEAD_MINIBATCH)
    total = per_epoch * config.epochs
    scheduler = _schedule(optimizer, total, config.warmup_ratio)
    history: list[dict] = []
    step = 0
    stopper = EarlyStopping(head, config.patience)
    stopped_early = False
    for epoch in range(config.epochs):
        order = torch.randperm(len(y_train), generator=generator)
        for start in range(0, len(order), HEAD_MINIBATCH):
            index = order[start : start + HEAD_MINIBATCH]
            logits = head(x_train[index].to(device))
            loss = torch.nn.functional.cross_entropy(logits.float(), y_train[index].to(device))
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if progress:
                value = loss.detach().item()
                progress(
                    Progress(
                        step, total, value, None, epoch + start / len(order), epochs=config.epochs
                    )
                )
        if x_val is not None:
            head.eval()
            with torch.inference_mode():
                val_loss = float(
                    torch.nn.functional.cross_entropy(
                        head(x_val.to(device)).float(), y_val.to(device)
                    )
                )
            head.train()
            history.append({"step": step, "train_loss": float(loss.detach()), "val_loss": val_loss})
            if stopper.should_stop(val_loss):
                stopped_early = True
                break
    stopper.restore_best()
    model.eval()
    tokens = sum(len(e.input_ids) for e in train_encoded)
    # the head's own throughput: labeled steps per second over the cached features
    measured = throughput.measure(
        kind="training",
        model=head,
        tokens=len(y_train) * (epoch + 1),
        labeled_steps=len(y_train) * (epoch + 1),
        seconds=time.monotonic() - head_started,
        device=device,
    )
    return TrainReport(
        step,
        epoch + 1,
        stopper.best_loss,
        history,
        tokens,
        0.0,
        stopped_early,
        {**asdict(config), "learning_rate": config.effective_learning_rate},
        dtypes={"master_weights": str(next(head.parameters()).dtype).replace("torch.", "")},
        throughput=measured.as_dict(),
    )
