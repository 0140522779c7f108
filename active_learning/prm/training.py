"""Training a PRM (no Django).

Cross-entropy at the step label tokens; AdamW with linear warmup and linear decay, gradient
accumulation, early stopping on held-out loss (the best weights are kept), fixed seeds, and a
progress callback (step, loss, ETA) that a Celery task can forward to the UI.

Modes:
- `full`: every weight trains (GPU). On CUDA: bf16 autocast, SDPA attention (chosen when the
  model is loaded), optional gradient checkpointing, optional packing of several examples per
  row (position ids restart per example, so attention stays within an example).
- `lora`: low-rank adapters (peft) on the attention and MLP projections plus the head.
- `head`: the backbone is frozen and run once; only the classification head trains, on the
  cached hidden states at the label tokens. This is what makes CPU retraining take minutes.
"""

import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from active_learning.prm import features as features_cache
from active_learning.prm.data import Example
from active_learning.prm.scoring import collate
from active_learning.prm.tokenization import IGNORE, Encoded, StepTokenizer

MODES = ("full", "lora", "head")


@dataclass
class TrainConfig:
    mode: str = "full"
    epochs: int = 3
    learning_rate: float = 2e-5
    head_learning_rate: float = 1e-3
    batch_size: int = 8
    grad_accumulation: int = 1
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 1024
    seed: int = 0
    patience: int = 2  # evaluations without a better held-out loss before stopping
    evals_per_epoch: int = 1
    lora_rank: int = 16
    gradient_checkpointing: bool = False
    packing: bool = False
    max_grad_norm: float = 1.0

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")


@dataclass
class Progress:
    step: int
    total_steps: int
    loss: float
    eta_seconds: float | None
    epoch: float
    phase: str = "train"  # or "features" (head mode) / "eval"


@dataclass
class TrainReport:
    steps: int
    epochs_run: float
    best_val_loss: float | None
    history: list[dict]
    train_tokens: int
    seconds: float
    stopped_early: bool
    config: dict


class EarlyStopping:
    """Keeps the weights with the best held-out loss; says stop after `patience` evaluations
    without a better one."""

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


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def _device(model) -> torch.device:
    return next(model.parameters()).device


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _batches(encoded: list[Encoded], batch_size: int, shuffle: bool, rng: random.Random):
    order = list(range(len(encoded)))
    if shuffle:
        rng.shuffle(order)
    for start in range(0, len(order), batch_size):
        yield [encoded[i] for i in order[start : start + batch_size]]


def pack(encoded: list[Encoded], max_length: int) -> list[list[Encoded]]:
    """Greedy first-fit packing of examples into rows of at most `max_length` tokens."""
    rows: list[list[Encoded]] = []
    lengths: list[int] = []
    for e in sorted(encoded, key=lambda e: -len(e.input_ids)):
        for i, used in enumerate(lengths):
            if used + len(e.input_ids) <= max_length:
                rows[i].append(e)
                lengths[i] += len(e.input_ids)
                break
        else:
            rows.append([e])
            lengths.append(len(e.input_ids))
    return rows


def packed_batch(rows: list[list[Encoded]], pad_id: int) -> dict[str, torch.Tensor]:
    """Rows of several examples each. Attention is block-diagonal and causal (a 4D boolean
    mask; position ids restart per example): an example never sees its neighbours. This needs
    the SDPA attention implementation (the default); restarting position ids alone do not
    separate examples there."""
    width = max(sum(len(e.input_ids) for e in row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    segments = torch.full((len(rows), width), -1, dtype=torch.long)
    for r, row in enumerate(rows):
        at = 0
        for s, e in enumerate(row):
            n = len(e.input_ids)
            ids[r, at : at + n] = torch.tensor(e.input_ids)
            labels[r, at : at + n] = torch.tensor(e.labels)
            positions[r, at : at + n] = torch.arange(n)
            segments[r, at : at + n] = s
            at += n
        positions[r, at:] = torch.arange(width - at)  # padding: a segment of its own
    causal = torch.tril(torch.ones(width, width, dtype=torch.bool))
    mask = (segments[:, :, None] == segments[:, None, :]) & causal
    return {
        "input_ids": ids,
        "labels": labels,
        "position_ids": positions,
        "attention_mask": mask[:, None, :, :],
    }


def _loss(model, batch: dict[str, torch.Tensor], device) -> tuple[torch.Tensor, int]:
    labels = batch["labels"].to(device)
    inputs = {k: v.to(device) for k, v in batch.items() if k != "labels"}
    with _autocast(device):
        logits = model(**inputs).logits
    loss = torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]),
        labels.reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )
    return loss, int((labels != IGNORE).sum())


def evaluate_loss(model, encoded: list[Encoded], pad_id: int, batch_size: int) -> float | None:
    device = _device(model)
    model.eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for batch in _batches(encoded, batch_size, False, random.Random(0)):
            loss, n = _loss(model, collate(batch, pad_id), device)
            total += float(loss)
            count += n
    return total / count if count else None


def _schedule(optimizer, total_steps: int, warmup_ratio: float):
    warmup = max(1, int(total_steps * warmup_ratio))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


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
    """Train in place; returns (model, TrainReport). In `lora` mode the returned model is the
    adapters merged into the backbone."""
    seed_everything(config.seed)
    started = time.monotonic()
    train_encoded = _with_labels([step_tokenizer.encode(e) for e in train_examples])
    val_encoded = _with_labels([step_tokenizer.encode(e) for e in val_examples])
    if not train_encoded:
        raise ValueError("no training example has a labeled step")
    if config.mode == "head":
        report = _train_head(model, step_tokenizer, train_encoded, val_encoded, config, progress)
        report.seconds = time.monotonic() - started
        return model, report
    if config.mode == "lora":
        model = _add_lora(model, config.lora_rank)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    device = _device(model)
    rng = random.Random(config.seed)
    pad = step_tokenizer.pad_id
    units = pack(train_encoded, step_tokenizer.max_length) if config.packing else train_encoded
    per_epoch = math.ceil(len(units) / config.batch_size)
    total_steps = max(1, math.ceil(per_epoch * config.epochs / config.grad_accumulation))
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        parameters, lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = _schedule(optimizer, total_steps, config.warmup_ratio)
    eval_every = max(1, per_epoch // max(1, config.evals_per_epoch))
    history: list[dict] = []
    stopper = EarlyStopping(model, config.patience)
    step = micro = tokens = 0
    stopped_early = False
    running = 0.0
    for epoch in range(config.epochs):
        model.train()
        for batch in _batches(units, config.batch_size, True, rng):
            inputs = packed_batch(batch, pad) if config.packing else collate(batch, pad)
            tokens += int((inputs["input_ids"] != pad).sum())
            loss, count = _loss(model, inputs, device)
            (loss / max(1, count) / config.grad_accumulation).backward()
            value = float(loss.detach()) / max(1, count)
            running = 0.9 * running + 0.1 * value if micro else value  # smoothed for display
            micro += 1
            if micro % config.grad_accumulation:
                continue
            torch.nn.utils.clip_grad_norm_(parameters, config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if progress:
                elapsed = time.monotonic() - started
                progress(
                    Progress(
                        step,
                        total_steps,
                        running,
                        elapsed / step * (total_steps - step),
                        epoch + micro / per_epoch,
                    )
                )
            if micro % eval_every == 0 and val_encoded:
                val_loss = evaluate_loss(model, val_encoded, pad, config.batch_size)
                model.train()
                history.append({"step": step, "train_loss": running, "val_loss": val_loss})
                if stopper.should_stop(val_loss):
                    stopped_early = True
                    break
        if stopped_early:
            break
    stopper.restore_best()
    if config.mode == "lora":
        model = model.merge_and_unload()
    model.eval()
    return model, TrainReport(
        steps=step,
        epochs_run=micro / per_epoch,
        best_val_loss=stopper.best_loss,
        history=history,
        train_tokens=tokens,
        seconds=time.monotonic() - started,
        stopped_early=stopped_early,
        config=asdict(config),
    )


def _add_lora(model, rank: int):
    from peft import LoraConfig, get_peft_model

    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        lora_dropout=0.05,
        target_modules=targets,
        modules_to_save=["score"],
        task_type="TOKEN_CLS",
    )
    return get_peft_model(model, config)


def head_module(model):
    head = getattr(model, "score", None) or getattr(model, "classifier", None)
    if head is None:
        raise ValueError("the model has no classification head named score or classifier")
    return head


def _features(model, step_tokenizer, encoded, batch_size, progress, phase_total):
    """Hidden states (after the backbone's final norm) at the label tokens, and their labels;
    through the active feature cache, if any (see `features`)."""
    cache = features_cache.active()
    if cache is not None:
        result = cache.labeled_features(model, encoded, step_tokenizer.pad_id, batch_size)
        if progress:
            progress(Progress(phase_total, phase_total, 0.0, None, 0.0, phase="features"))
        return result
    device = _device(model)
    base = getattr(model, model.base_model_prefix)
    base.eval()
    features, labels = [], []
    with torch.inference_mode():
        for i, batch in enumerate(_batches(encoded, batch_size, False, random.Random(0))):
            inputs = collate(batch, step_tokenizer.pad_id)
            with _autocast(device):
                hidden = base(
                    input_ids=inputs["input_ids"].to(device),
                    attention_mask=inputs["attention_mask"].to(device),
                ).last_hidden_state
            mask = inputs["labels"] != IGNORE
            features.append(hidden.float()[mask.to(device)].cpu())
            labels.append(inputs["labels"][mask])
            if progress:
                progress(Progress(i + 1, phase_total, 0.0, None, 0.0, phase="features"))
    return torch.cat(features), torch.cat(labels)


def _train_head(model, step_tokenizer, train_encoded, val_encoded, config, progress):
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    head = head_module(model)
    for parameter in head.parameters():
        parameter.requires_grad_(True)
    batches = math.ceil(len(train_encoded) / config.batch_size) + math.ceil(
        len(val_encoded) / config.batch_size
    )
    x_train, y_train = _features(
        model, step_tokenizer, train_encoded, config.batch_size, progress, batches
    )
    x_val, y_val = (
        _features(model, step_tokenizer, val_encoded, config.batch_size, None, batches)
        if val_encoded
        else (None, None)
    )
    device = _device(model)
    head.train()
    optimizer = torch.optim.AdamW(
        head.parameters(), lr=config.head_learning_rate, weight_decay=config.weight_decay
    )
    generator = torch.Generator().manual_seed(config.seed)
    minibatch = 256
    per_epoch = math.ceil(len(y_train) / minibatch)
    total = per_epoch * config.epochs
    scheduler = _schedule(optimizer, total, config.warmup_ratio)
    history: list[dict] = []
    step = 0
    stopper = EarlyStopping(head, config.patience)
    stopped_early = False
    for epoch in range(config.epochs):
        order = torch.randperm(len(y_train), generator=generator)
        for start in range(0, len(order), minibatch):
            index = order[start : start + minibatch]
            logits = head(x_train[index].to(device))
            loss = torch.nn.functional.cross_entropy(logits.float(), y_train[index].to(device))
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if progress:
                progress(Progress(step, total, float(loss), None, epoch + start / len(order)))
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
    return TrainReport(
        step, epoch + 1, stopper.best_loss, history, tokens, 0.0, stopped_early, asdict(config)
    )
