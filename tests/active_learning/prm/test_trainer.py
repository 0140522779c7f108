"""`full` and `lora` training on transformers.Trainer, on CPU with tiny models built in code."""

import random

import pytest
import torch

from active_learning.prm import batching
from active_learning.prm.data import NEGATIVE, POSITIVE, Example
from active_learning.prm.model import tiny_model
from active_learning.prm.tokenization import IGNORE, StepTokenizer
from active_learning.prm.trainer import fsdp_arguments
from active_learning.prm.training import DEFAULT_LEARNING_RATE, TrainConfig, train
from tests.active_learning.prm.conftest import synthetic_examples


def test_a_bf16_checkpoint_trains_with_fp32_master_weights(tokenizer):
    """transformers loads Qwen/Llama checkpoints in bf16; training them in bf16 rounds small
    AdamW updates away. The old loop kept the bf16 weights (and bf16 optimizer states)."""
    model = tiny_model(tokenizer).to(torch.bfloat16)
    before = model.model.layers[0].mlp.up_proj.weight.detach().float().clone()
    step_tokenizer = StepTokenizer(tokenizer, max_length=256)
    model, report = train(
        model,
        step_tokenizer,
        synthetic_examples(32, 1),
        [],
        TrainConfig(mode="full", epochs=1, batch_size=8, learning_rate=2e-5, precision="bf16"),
    )
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert report.dtypes == {
        "checkpoint": "bfloat16",
        "master_weights": "float32",
        "compute": "bfloat16",
    }
    after = model.model.layers[0].mlp.up_proj.weight.detach()
    # in fp32 an lr-2e-5 AdamW step moves (nearly) every element; in bf16 most round away
    assert (after != before).float().mean() > 0.95


def test_lora_has_its_own_learning_rate_and_rank(tokenizer):
    model = tiny_model(tokenizer)
    step_tokenizer = StepTokenizer(tokenizer, max_length=256)
    model, report = train(
        model,
        step_tokenizer,
        synthetic_examples(16, 1),
        [],
        TrainConfig(mode="lora", epochs=1, batch_size=8, lora_rank=4),
    )
    assert report.config["learning_rate"] == DEFAULT_LEARNING_RATE["lora"] == 2e-4
    assert DEFAULT_LEARNING_RATE["full"] == 2e-5
    assert report.config["lora_rank"] == 4
    assert type(model).__name__ == "LlamaForTokenClassification"


def test_the_last_partial_accumulation_step_is_trained(tokenizer):
    """10 examples, batches of 2, accumulation 4: 5 micro-batches, i.e. one full optimizer step
    and a partial one; the old loop dropped the partial one (1 step)."""
    model = tiny_model(tokenizer)
    step_tokenizer = StepTokenizer(tokenizer, max_length=256)
    seen = []
    _, report = train(
        model,
        step_tokenizer,
        synthetic_examples(10, 1),
        [],
        TrainConfig(mode="full", epochs=1, batch_size=2, grad_accumulation=4, packing=False),
        progress=seen.append,
    )
    assert report.steps == 2 and seen[-1].step == 2 and seen[-1].epochs == 1
    # the bar moves from the start: a "step 0/2 · epoch 1/1" report before the first optimizer
    # step ends (on a loaded machine that step alone took seconds at 0%), then one per step
    assert [(p.step, p.total_steps) for p in seen] == [(0, 2), (1, 2), (2, 2)]
    assert report.packing == "length-grouped"
    assert report.throughput["tokens"] > 0 and report.throughput["tokens_per_second"] > 0


def test_early_stopping_keeps_the_best_weights_and_training_resumes(tokenizer, tmp_path):
    step_tokenizer = StepTokenizer(tokenizer, max_length=256)
    config = TrainConfig(
        mode="full", epochs=2, batch_size=8, learning_rate=1e-3, output_dir=str(tmp_path / "t")
    )
    _, first = train(
        tiny_model(tokenizer),
        step_tokenizer,
        synthetic_examples(32, 1),
        synthetic_examples(8, 2),
        config,
    )
    assert first.best_val_loss == min(h["val_loss"] for h in first.history)
    assert sorted(p.name for p in (tmp_path / "t").iterdir() if p.name.startswith("checkpoint"))
    longer = TrainConfig(**{**config.__dict__, "epochs": 3, "resume_from_checkpoint": "latest"})
    _, resumed = train(
        tiny_model(tokenizer),
        step_tokenizer,
        synthetic_examples(32, 1),
        synthetic_examples(8, 2),
        longer,
    )
    assert resumed.steps == 12  # 4 steps per epoch; epochs 1-2 came from the checkpoint
    assert resumed.history[0]["step"] == 4  # the restored trainer state carries the history


def mixed_length_examples(count: int, seed: int) -> list[Example]:
    """One solution in five has 30 steps (~400 tokens), the rest 2 (~30 tokens)."""
    rng = random.Random(seed)
    examples = []
    for i in range(count):
        steps = [f"so {rng.randint(1, 9)}+{rng.randint(1, 9)} is what it is" for _ in range(30)]
        steps = steps if i % 5 == 0 else steps[:2]
        labels = [POSITIVE] * (len(steps) - 1) + [rng.choice([POSITIVE, NEGATIVE])]
        examples.append(Example(f"problem {i}", steps, labels))
    return examples


def test_token_budget_batches_bind_and_give_the_unbatched_loss(tokenizer, monkeypatch):
    """Batches by tokens (budget 1200, solutions of ~30 and ~400 tokens): no collated batch
    holds more than 1200 tokens padding included, every example is trained on exactly once in
    the epoch, batch sizes vary with length, and the loss of the one optimizer step (every
    micro-batch accumulated) equals the cross-entropy summed over each example alone divided
    by the labeled steps. Would catch a batch over budget, a dropped or repeated example, and
    a loss averaged per micro-batch (the old Trainer setup: the model's mean per batch, not
    divided by the accumulation steps, gave the sum of the micro-batches' means)."""
    examples = mixed_length_examples(20, seed=1)
    step_tokenizer = StepTokenizer(tokenizer, max_length=600)
    model = tiny_model(tokenizer, seed=5)
    model.dropout.p = 0.0  # the head's dropout (0.1 in training) would change the loss
    encoded = step_tokenizer.encode_many(examples)
    reference, labeled = 0.0, 0
    with torch.inference_mode():
        for e in encoded:
            logits = model(input_ids=torch.tensor([e.input_ids])).logits[0]
            labels = torch.tensor(e.labels)
            loss = torch.nn.functional.cross_entropy(
                logits, labels, ignore_index=IGNORE, reduction="sum"
            )
            reference += float(loss)
            labeled += int((labels != IGNORE).sum())
    collated = []
    real_collator = batching.PaddingCollator.__call__

    def spy(self, rows):
        batch = real_collator(self, rows)
        collated.append((len(rows), batch["input_ids"].numel(), [r["input_ids"] for r in rows]))
        return batch

    monkeypatch.setattr(batching.PaddingCollator, "__call__", spy)
    budget = 1200
    _, report = train(
        model,
        step_tokenizer,
        examples,
        [],
        TrainConfig(
            mode="full",
            epochs=1,
            token_budget=budget,
            grad_accumulation=100,  # more than the batches: one optimizer step
            max_length=600,
            packing=False,
            learning_rate=1e-4,
        ),
    )
    assert report.steps == 1
    assert all(tokens <= budget for _, tokens, _ in collated)
    assert sorted(map(tuple, (ids for _, _, rows in collated for ids in rows))) == sorted(
        tuple(e.input_ids) for e in encoded
    )
    assert len({rows for rows, _, _ in collated}) > 1  # a token budget, not a row count
    assert report.batching == {
        "token_budget": budget,
        "batches_per_epoch": len(collated),
        "largest_batch_tokens": max(tokens for _, tokens, _ in collated),
    }
    assert report.throughput["train_loss"] == pytest.approx(reference / labeled, rel=1e-4)


def test_a_token_budget_below_the_longest_input_is_refused():
    with pytest.raises(ValueError, match="token_budget"):
        TrainConfig(token_budget=512, max_length=1536)


def test_fsdp_options_reach_accelerates_fsdp_plugin(tokenizer, tmp_path):
    """FSDP2 with each decoder layer a sharded unit and a full checkpoint on save, as
    accelerate's FSDP plugin receives it from TrainingArguments. (accelerate enables FSDP only
    on GPUs, so this is the CPU-testable part; the run itself is measured on GPUs.)"""
    from accelerate.utils import FullyShardedDataParallelPlugin
    from transformers import TrainingArguments

    model = tiny_model(tokenizer)
    config = TrainConfig(fsdp="full_shard", gradient_checkpointing=True)
    arguments = TrainingArguments(
        output_dir=str(tmp_path), use_cpu=True, report_to="none", **fsdp_arguments(model, config)
    )
    plugin = FullyShardedDataParallelPlugin(**arguments.fsdp_plugin_args)
    assert plugin.fsdp_version == 2 and plugin.reshard_after_forward is True
    assert plugin.transformer_cls_names_to_wrap == ["LlamaDecoderLayer"]
    assert plugin.state_dict_type.name == "FULL_STATE_DICT" and plugin.activation_checkpointing


def test_fsdp_on_a_cpu_is_refused_rather_than_silently_replicated(tokenizer):
    """On CPU processes accelerate ignores the FSDP plugin and runs DDP: the run would report
    FSDP while every process held the whole model."""
    with pytest.raises(ValueError, match="fsdp needs several GPU processes"):
        train(
            tiny_model(tokenizer),
            StepTokenizer(tokenizer, max_length=256),
            synthetic_examples(8, 1),
            [],
            TrainConfig(mode="full", epochs=1, fsdp="full_shard"),
        )


def test_fsdp_shards_each_decoder_layer_and_saves_a_full_checkpoint(tokenizer):
    """What reaches TrainingArguments for FSDP."""
    model = tiny_model(tokenizer)
    assert fsdp_arguments(model, TrainConfig()) == {}
    arguments = fsdp_arguments(model, TrainConfig(fsdp="full_shard", gradient_checkpointing=True))
    assert arguments == {
        "fsdp": True,
        "fsdp_config": {
            "version": 2,
            "reshard_after_forward": True,
            "state_dict_type": "FULL_STATE_DICT",
            "activation_checkpointing": True,
            "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "transformer_layer_cls_to_wrap": ["LlamaDecoderLayer"],
        },
    }
    zero2 = fsdp_arguments(model, TrainConfig(fsdp="shard_grad_op"))
    assert zero2["fsdp_config"]["reshard_after_forward"] is False
    with pytest.raises(ValueError, match="fsdp"):
        TrainConfig(fsdp="zero3")
