"""Training options and what a training run reports (no Django, no torch).

`TrainConfig` holds every option the loop settings, the API and `train_prm` can set; `Progress`
is what the progress callback receives; `TrainReport` is what `training.train` returns with the
model (recorded in the model version's metrics).
"""

import math
from dataclasses import dataclass, field

MODES = ("full", "lora", "head")
PRECISIONS = ("auto", "bf16", "fp32")
# "full_shard": parameters, gradients and optimizer states sharded over the processes and the
# parameters freed again after each layer's forward (ZeRO-3); "shard_grad_op": kept until the
# backward (ZeRO-2). The FSDP2 strategies transformers.TrainingArguments maps (fsdp_config).
FSDP_STRATEGIES = ("", "full_shard", "shard_grad_op")
DEFAULT_LEARNING_RATE = {"full": 2e-5, "lora": 2e-4, "head": 1e-3}


@dataclass
class TrainConfig:
    """Every training option (the loop settings, the API and `train_prm` set these).

    learning_rate None: the mode's default (DEFAULT_LEARNING_RATE); in head mode it is the head's
    rate unless head_learning_rate is given (a caller's override for head mode alone). precision
    `auto`: bf16 autocast over fp32 master weights on a CUDA device with bf16, fp32 elsewhere.
    packing: flatten each batch into one padding-free row where the model supports it
    (batching.supports_packing), else group by length. token_budget: build training batches by
    tokens instead of examples (at most this many tokens per micro-batch, padding included when
    batches are padded; batch_size is then ignored in training, see
    batching.TokenBudgetBatchSampler); None: batch_size examples per micro-batch. fsdp: shard the
    model over the processes of a torchrun / accelerate launch (FSDP_STRATEGIES; "" is DDP, a full
    replica per process). output_dir: where Trainer writes its checkpoints (a temporary folder when
    None); resume_from_checkpoint: a checkpoint folder, or "latest" in output_dir.

    Raises ValueError, naming the field, for an unknown mode, precision or FSDP strategy, a size
    or patience below 1 (max_length below 16), a learning rate or LoRA alpha that is not a finite
    number above 0, a warm-up ratio or weight decay outside 0..1, or a token budget below
    max_length (a single example must fit in a batch)."""

    mode: str = "full"
    epochs: int = 3
    learning_rate: float | None = None
    head_learning_rate: float | None = None  # None: learning_rate, else 1e-3
    batch_size: int = 8
    token_budget: int | None = None
    grad_accumulation: int = 1
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    # 1536 tokens: 3.2% of ProcessBench MATH solutions are truncated with the SmolLM2 tokenizer
    # (1024: 14.6%, 512: 55%); measured in docs/active-learning-simulation.md (issue 12)
    max_length: int = 1536
    seed: int = 0
    patience: int = 2  # evaluations without a better validation loss before stopping
    evals_per_epoch: int = 1
    lora_rank: int = 16
    lora_alpha: int | None = None  # None: 2 * rank
    gradient_checkpointing: bool = False
    packing: bool = True
    precision: str = "auto"
    attn_implementation: str | None = None  # None: transformers' default (SDPA)
    fsdp: str = ""
    max_grad_norm: float = 1.0
    max_steps: int | None = None  # stop after this many optimizer steps (benchmarks)
    output_dir: str | None = None
    resume_from_checkpoint: str | None = None
    fused_adamw: bool = True

    def __post_init__(self):
        # The library's own defence, for callers outside the loop (train_prm, benchmarks). The
        # loop's rules are the table in active_learning/loop/settings_rules.py (this package may
        # not import it); tests/active_learning/loop/test_settings_rules.py feeds both every
        # boundary value of the table, so a bound changed here or there alone fails.
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}")
        if self.fsdp not in FSDP_STRATEGIES:
            raise ValueError(f"fsdp must be one of {FSDP_STRATEGIES}")
        for name in (
            "epochs",
            "batch_size",
            "grad_accumulation",
            "lora_rank",
            "patience",
            "evals_per_epoch",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_length < 16:  # the loop's floor too (settings_rules)
            raise ValueError("max_length must be at least 16")
        # 0 would read as "the mode's default" and a negative rate climbs the loss: refused
        for name in ("learning_rate", "head_learning_rate", "lora_alpha"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a number above 0 (got {value!r})")
        for name in ("warmup_ratio", "weight_decay"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a number from 0 to 1")
        if self.token_budget is not None and self.token_budget < self.max_length:
            raise ValueError(
                f"token_budget ({self.token_budget}) must be at least max_length "
                f"({self.max_length}): every example must fit in one batch"
            )

    @property
    def effective_learning_rate(self) -> float:
        if self.mode == "head" and self.head_learning_rate is not None:
            return self.head_learning_rate
        if self.learning_rate is not None:
            return self.learning_rate
        return DEFAULT_LEARNING_RATE[self.mode]


@dataclass
class Progress:
    step: int
    total_steps: int
    loss: float
    eta_seconds: float | None
    epoch: float
    phase: str = "train"  # or "features" (head mode) / "eval"
    epochs: int = 0  # planned epochs (0: unknown)


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
    dtypes: dict = field(default_factory=dict)  # checkpoint / master / compute dtypes
    packing: str = ""  # "flattened", "length-grouped" or "" (head mode)
    throughput: dict = field(default_factory=dict)  # throughput.Throughput.as_dict()
    world_size: int = 1
    # token-budget batches: {"token_budget", "batches_per_epoch", "largest_batch_tokens"}
    batching: dict = field(default_factory=dict)
    # FSDP: {"strategy", "sharded_units" (modules torch's fully_shard wrapped), "version"}
    fsdp: dict = field(default_factory=dict)
