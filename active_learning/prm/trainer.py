"""`full` and `lora` training on transformers.Trainer (no Django).

A well-kept loop rather than our own (accelerate underneath): fp32 master weights with bf16
autocast on a GPU (a bf16 checkpoint is upcast before training, so AdamW updates are not rounded
away; the dtypes are recorded in the report), padding-free packing or length-grouped dynamic
padding (`batching`), optional token-budget batches, fused AdamW, gradient checkpointing,
gradient accumulation (the last partial accumulation step is kept), early stopping with the
best weights restored, resume from a checkpoint, and DDP or FSDP when started by `torchrun` or
`accelerate launch` (see `active_learning.prm.launch`).

The loss is the cross-entropy summed over the labeled steps of an optimizer step (all its
micro-batches, on every process) divided by their number: each labeled step weighs the same
whatever batch it landed in, so token-budget batches of 3 long or 30 short solutions, and any
accumulation split, give the loss of one batch holding them all (transformers' "gradient
accumulation loss" fix, issue 34242, done through `compute_loss_func`).
"""

import math
import tempfile
import time
from dataclasses import asdict

import torch

from active_learning.prm import distributed, throughput
from active_learning.prm.batching import (
    TokenBudgetBatchSampler,
    TrainingRows,
    batch_tokens,
    make_collator,
)
from active_learning.prm.tokenization import IGNORE
from active_learning.prm.train_config import Progress, TrainConfig, TrainReport

FSDP_NEEDS_GPUS = (
    "fsdp needs several GPU processes (torchrun or accelerate launch with one process per GPU): "
    "accelerate turns FSDP on only for multi-GPU runs, and a CPU run would silently fall back to "
    "DDP with a full model copy per process"
)
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def compute_dtype(config: TrainConfig, device: torch.device) -> torch.dtype:
    """bf16 autocast on a CUDA device that has it (or when asked for), fp32 otherwise."""
    if config.precision == "bf16":
        return torch.bfloat16
    if config.precision == "fp32":
        return torch.float32
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def upcast_to_fp32(model) -> str:
    """fp32 master weights: a checkpoint loaded in bf16/fp16 is cast to fp32 before the optimizer
    sees it (mixed precision then only lowers the compute dtype, in autocast). Returns the
    dtype the checkpoint was loaded in."""
    dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
    loaded = str(next(iter(dtypes))) if len(dtypes) == 1 else ",".join(sorted(map(str, dtypes)))
    if dtypes != {torch.float32}:
        model.float()
    return loaded.replace("torch.", "")


def add_lora(model, rank: int, alpha: int | None = None):
    from peft import LoraConfig, get_peft_model

    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [t for t in LORA_TARGETS if t in names] or "all-linear"
    config = LoraConfig(
        r=rank,
        lora_alpha=alpha or 2 * rank,
        lora_dropout=0.05,
        target_modules=targets,
        modules_to_save=["score"] if hasattr(model, "score") else ["classifier"],
        task_type="TOKEN_CLS",
    )
    return get_peft_model(model, config)


def labeled_step_loss(outputs, labels, num_items_in_batch=None):
    """Cross-entropy summed over the labeled positions (labels != IGNORE) of this micro-batch,
    divided by `num_items_in_batch`: Trainer's count of labeled positions over the whole
    optimizer step (every micro-batch of the accumulation, on every process). Without that
    count (evaluation of a single batch), divided by this batch's labeled positions."""
    logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
    labels = labels.to(logits.device)
    total = torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]),
        labels.reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )
    count = num_items_in_batch if num_items_in_batch is not None else (labels != IGNORE).sum()
    return total / count


def fsdp_arguments(model, config: TrainConfig) -> dict:
    """TrainingArguments for FSDP2 (torch's `fully_shard`, through accelerate's FSDP plugin):
    each decoder layer (the model's `_no_split_modules`) is a unit whose parameters, gradients
    and optimizer states are sharded over the processes; `full_shard` also frees the gathered
    parameters after each layer's forward (reshard_after_forward), `shard_grad_op` keeps them
    until the backward. The checkpoint is gathered into one full state dict on save
    (FULL_STATE_DICT), so the saved folder is an ordinary checkpoint. Activation checkpointing
    goes through FSDP's own option (the Trainer flag would gather the parameters twice).
    Empty when config.fsdp is "".

    accelerate enables FSDP only for multi-GPU runs (its MULTI_CPU path ignores the plugin), so
    FSDP cannot be exercised on a CPU: `train_with_trainer` refuses it there (FSDP_NEEDS_GPUS)
    rather than train a full copy per process while the report claims sharding."""
    if not config.fsdp:
        return {}
    fsdp_config = {
        "version": 2,
        "reshard_after_forward": config.fsdp == "full_shard",
        "state_dict_type": "FULL_STATE_DICT",
        "activation_checkpointing": config.gradient_checkpointing,
    }
    layers = list(getattr(model, "_no_split_modules", None) or [])
    if layers:
        fsdp_config["auto_wrap_policy"] = "TRANSFORMER_BASED_WRAP"
        fsdp_config["transformer_layer_cls_to_wrap"] = layers
    return {"fsdp": True, "fsdp_config": fsdp_config}


def _progress_callback(progress, started: float, epochs: int):
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        loss = 0.0

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                self.loss = float(logs["loss"])

        def on_train_begin(self, args, state, control, **kwargs):
            # step 0 of N with the epoch, before the first (slowest) optimizer step ends
            self.on_step_end(args, state, control, **kwargs)

        def on_step_end(self, args, state, control, **kwargs):
            if progress is None or not state.is_world_process_zero:
                return
            elapsed = time.monotonic() - started
            total = max(state.max_steps, 1)
            step = state.global_step
            progress(
                Progress(
                    step,
                    total,
                    self.loss,
                    elapsed / step * (total - step) if step else None,
                    float(state.epoch or 0.0),
                    epochs=epochs,
                )
            )

    return ProgressCallback()


def _trainer_class(token_budget: int | None, padded: bool):
    """Trainer, or a subclass whose data loaders take token-budget batches."""
    from transformers import Trainer

    if token_budget is None:
        return Trainer

    class TokenBudgetTrainer(Trainer):
        def _budget_loader(self, dataset: TrainingRows, shuffle: bool):
            sampler = TokenBudgetBatchSampler(
                dataset.lengths(),
                token_budget,
                padded=padded,
                shuffle=shuffle,
                seed=self.args.seed,
                num_replicas=self.args.world_size,
                rank=self.args.process_index,
            )
            loader = torch.utils.data.DataLoader(
                dataset,
                batch_sampler=sampler,
                collate_fn=self.data_collator,
                pin_memory=self.args.dataloader_pin_memory,
            )
            prepared = self.accelerator.prepare(loader)
            # the sampler already gives each process its batches: make accelerate's
            # BatchSamplerShard a pass-through, as Trainer does for its BatchRebalanceSampler
            shard = getattr(prepared, "batch_sampler", None)
            if shard is not None and getattr(shard, "batch_sampler", None) is sampler:
                shard.num_processes, shard.process_index = 1, 0
            return prepared

        def get_train_dataloader(self):
            return self._budget_loader(self.train_dataset, shuffle=True)

        def get_eval_dataloader(self, eval_dataset=None):
            if eval_dataset is None or isinstance(eval_dataset, str):
                eval_dataset = self.eval_dataset
            return self._budget_loader(eval_dataset, shuffle=False)

    return TokenBudgetTrainer


def _batching_report(rows: TrainingRows, config: TrainConfig, padded: bool, world: int) -> dict:
    """The first epoch's token-budget batches, all processes together (as the training
    loader's sampler computes them, the count evened out for `world` processes)."""
    if config.token_budget is None:
        return {}
    sampler = TokenBudgetBatchSampler(
        rows.lengths(), config.token_budget, padded=padded, seed=config.seed, num_replicas=world
    )
    lengths = rows.lengths()
    batches = sampler.batches()
    return {
        "token_budget": config.token_budget,
        "batches_per_epoch": len(batches),
        "largest_batch_tokens": max(batch_tokens([lengths[i] for i in b], padded) for b in batches),
    }


def _gathered_model(trainer, model):
    """The trained weights as an ordinary (unsharded) model. Under FSDP every process takes part
    in gathering the full state dict; it is loaded into a fresh copy of the model (on the CPU),
    on every process, so that all return the same kind of object (only rank 0 saves it)."""
    if not trainer.is_fsdp_enabled:
        return trainer.model
    state = trainer.accelerator.get_state_dict(trainer.model)
    plain = type(model)(model.config)
    if state:
        plain.load_state_dict(state)
    return plain


def train_with_trainer(model, step_tokenizer, train_encoded, val_encoded, config, progress):
    """(model, TrainReport) for `full` or `lora` mode; see the module docstring."""
    from transformers import EarlyStoppingCallback, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    started = time.monotonic()
    world = distributed.world_size()
    device = next(model.parameters()).device
    if device.type == "cuda" and device.index is not None and world == 1:
        torch.cuda.set_device(device)  # Trainer places the model on the current device
    on_cuda = torch.cuda.is_available() and (device.type == "cuda" or world > 1)
    if config.fsdp and not (on_cuda and world > 1):
        raise ValueError(FSDP_NEEDS_GPUS)
    checkpoint_dtype = upcast_to_fp32(model)
    # no KV cache in training: with one, the attention mask ignores packed examples' boundaries
    model.config.use_cache = False
    compute = compute_dtype(config, torch.device("cuda") if on_cuda else device)
    if config.mode == "lora":
        model = add_lora(model, config.lora_rank, config.lora_alpha)
    collator, packing = make_collator(model, step_tokenizer.pad_id, config.packing)
    padded = packing != "flattened"
    train_rows, val_rows = TrainingRows(train_encoded), TrainingRows(val_encoded)
    batching = _batching_report(train_rows, config, padded, world)
    if config.token_budget is None:
        batches_per_epoch = math.ceil(len(train_rows) / (config.batch_size * world))
    else:
        batches_per_epoch = batching["batches_per_epoch"] // world
    steps_per_epoch = math.ceil(batches_per_epoch / config.grad_accumulation)
    eval_steps = max(1, steps_per_epoch // max(1, config.evals_per_epoch))
    scratch = None
    output_dir = config.output_dir
    if output_dir is None:
        scratch = tempfile.TemporaryDirectory(prefix="prm-trainer-")
        output_dir = scratch.name
    with_eval = bool(val_encoded)
    fsdp = fsdp_arguments(model, config)
    arguments = TrainingArguments(
        output_dir=output_dir,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accumulation,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        learning_rate=config.effective_learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,
        lr_scheduler_type="linear",
        max_grad_norm=config.max_grad_norm,
        optim="adamw_torch_fused" if config.fused_adamw else "adamw_torch",
        bf16=compute == torch.bfloat16,
        activation_checkpointing=config.gradient_checkpointing and not fsdp,
        activation_checkpointing_kwargs={"use_reentrant": False}
        if config.gradient_checkpointing and not fsdp
        else None,
        train_sampling_strategy="random" if packing == "flattened" else "group_by_length",
        eval_strategy="steps" if with_eval else "no",
        eval_steps=eval_steps,
        save_strategy="steps" if with_eval or config.output_dir else "no",
        save_steps=eval_steps,
        save_total_limit=1,
        load_best_model_at_end=with_eval,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_strategy="steps",
        logging_steps=max(1, min(10, eval_steps)),
        report_to="none",
        log_level="warning",
        disable_tqdm=True,
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=not on_cuda,
        ddp_backend=None if on_cuda or world == 1 else "gloo",
        ddp_find_unused_parameters=False,
        remove_unused_columns=False,
        dataloader_pin_memory=on_cuda,
        average_tokens_across_devices=True,  # the loss's count spans every process
        # a temporary folder cannot be resumed from: keep only the weights (for the best
        # model at the end), not the optimizer states (3x the weights in fp32 AdamW)
        save_only_model=config.output_dir is None,
        **fsdp,
    )
    # the process group exists now (TrainingArguments set it up under torchrun)
    distributed.check_same_examples(train_encoded)
    callbacks = [_progress_callback(progress, started, config.epochs)]
    if with_eval:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.patience))
    trainer = _trainer_class(config.token_budget, padded)(
        model=model,
        args=arguments,
        train_dataset=train_rows,
        eval_dataset=val_rows if with_eval else None,
        data_collator=collator,
        callbacks=callbacks,
        compute_loss_func=labeled_step_loss,
    )
    if config.fsdp and not trainer.is_fsdp_enabled:  # say, an accelerate config overriding ours
        raise ValueError(FSDP_NEEDS_GPUS)
    trainer.remove_callback(PrinterCallback)  # progress goes through `progress`, not stdout
    resume = config.resume_from_checkpoint
    train_started = time.monotonic()
    if on_cuda:
        torch.cuda.reset_peak_memory_stats()
    result = trainer.train(resume_from_checkpoint=True if resume == "latest" else resume)
    train_seconds = time.monotonic() - train_started
    state = trainer.state
    history = [
        {"step": log["step"], "val_loss": log["eval_loss"]}
        for log in state.log_history
        if "eval_loss" in log
    ]
    for entry in history:
        losses = [
            log["loss"]
            for log in state.log_history
            if "loss" in log and log["step"] <= entry["step"]
        ]
        entry["train_loss"] = losses[-1] if losses else None
    sharding = {}
    if trainer.is_fsdp_enabled:  # fully_shard gives each unit a class named FSDP<its class>
        units = sum(type(m).__name__.startswith("FSDP") for m in trainer.model.modules())
        sharding = {"strategy": config.fsdp, "sharded_units": units, "version": 2}
    epochs_run = float(state.epoch or 0.0)
    tokens_per_epoch = sum(len(e.input_ids) for e in train_encoded)
    labeled_per_epoch = sum(sum(label != IGNORE for label in e.labels) for e in train_encoded)
    model = _gathered_model(trainer, model)
    if config.mode == "lora":
        model = model.merge_and_unload()
    model.eval()
    measured = throughput.measure(
        kind="training",
        model=model,
        tokens=round(tokens_per_epoch * epochs_run),
        labeled_steps=round(labeled_per_epoch * epochs_run),
        seconds=train_seconds,
        device=torch.device("cuda") if on_cuda else torch.device("cpu"),
        world_size=world,
    )
    dtypes = {
        "checkpoint": checkpoint_dtype,
        "master_weights": str(next(model.parameters()).dtype).replace("torch.", ""),
        "compute": str(compute).replace("torch.", ""),
    }
    if scratch is not None:
        scratch.cleanup()
    return model, TrainReport(
        steps=state.global_step,
        epochs_run=epochs_run,
        best_val_loss=state.best_metric,
        history=history,
        train_tokens=round(tokens_per_epoch * epochs_run),
        seconds=time.monotonic() - started,
        stopped_early=state.global_step < state.max_steps and config.max_steps is None,
        config={**asdict(config), "learning_rate": config.effective_learning_rate},
        dtypes=dtypes,
        packing=packing,
        throughput={**measured.as_dict(), "train_loss": result.training_loss},
        world_size=world,
        batching=batching,
        fsdp=sharding,
    )
