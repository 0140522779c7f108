"""PRM training and scoring throughput on one device (issue 16 points 2, 3, 6): tokens/s, labeled
steps/s, peak memory, MFU and solutions/hour, for `full` and `lora` training and for scoring.

The model is a Qwen2.5-1.5B-shaped token-classification PRM with RANDOM initial weights (no
weights can be downloaded on the benchmark machine; throughput does not depend on the weights).
It is created in bf16, as transformers loads a bf16 checkpoint, so the training path's fp32
master-weight upcast is exercised. Data are synthetic encoded solutions (random token ids,
~400 tokens, a label on each of ~8 step ends): no tokenizer is needed.

MFU = model FLOPs / (seconds x the device's dense bf16 peak), model FLOPs = 6 x N x tokens for
training and 2 x N x tokens for scoring, N = non-embedding parameters, real (unpadded) tokens
only (Kaplan et al. 2020, section 2.1; Chowdhery et al. 2022, PaLM, appendix B);
active_learning/prm/throughput.py has the peaks.

    # GPU (a few minutes on one H100/H200): writes $OUT/bench_prm_gpu.json (or bench/out/)
    PYTHONPATH=$PWD .venv/bin/python bench/bench_prm_gpu.py --preset qwen2.5-1.5b
    # CPU figures for docs/benchmarks.md (a small config, minutes on 2 cores)
    PYTHONPATH=$PWD .venv/bin/python bench/bench_prm_gpu.py --preset small --device cpu \\
        --train-steps 20 --solutions 400 --batch-size 4

Goals (issue 16): training >= 45% MFU at 1.5B; scoring >= 1M solutions/hour per H100-class GPU.
"""

import argparse
import json
import os
import random
import time
from pathlib import Path

PRESETS = {
    # Qwen/Qwen2.5-1.5B config.json (architecture only)
    "qwen2.5-1.5b": {
        "hidden_size": 1536,
        "intermediate_size": 8960,
        "num_hidden_layers": 28,
        "num_attention_heads": 12,
        "num_key_value_heads": 2,
        "vocab_size": 151936,
        "max_position_embeddings": 32768,
        "rope_theta": 1_000_000.0,
        "tie_word_embeddings": True,
    },
    # a small config of the same architecture, for CPU figures
    "small": {
        "hidden_size": 256,
        "intermediate_size": 1024,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 32000,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": True,
    },
}


class _Pad:
    """The one thing training needs from a StepTokenizer when inputs are already encoded."""

    pad_id = 0
    max_length = 512


def synthetic(count: int, vocab: int, mean_length: int, seed: int, spread: float = 1 / 8):
    """`count` encoded solutions, lengths Gaussian (mean_length, sd spread x mean_length), at
    least 48 and at most 2 x mean_length tokens."""
    from active_learning.prm.tokenization import IGNORE, Encoded

    rng = random.Random(seed)
    out = []
    for _ in range(count):
        n = min(2 * mean_length, max(48, int(rng.gauss(mean_length, mean_length * spread))))
        ids = [rng.randrange(3, vocab) for _ in range(n)]
        ends = sorted(rng.sample(range(40, n), k=min(8, n - 40)))
        labels = [IGNORE] * n
        for end in ends:
            labels[end] = rng.choice((0, 2, 2, 2))
        out.append(Encoded(ids, labels, ends, len(ends), False))
    return out


def build(preset: str, device: str, attn: str = "sdpa"):
    import torch
    from transformers import Qwen2Config, Qwen2ForTokenClassification

    config = Qwen2Config(**PRESETS[preset], num_labels=3, attn_implementation=attn)
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForTokenClassification(config)
    return model.to(torch.bfloat16)  # as a bf16 checkpoint loads


def bench_training(args, mode: str) -> dict:
    import torch

    from active_learning.prm.trainer import train_with_trainer
    from active_learning.prm.training import TrainConfig

    model = build(args.preset, args.device, args.attn)
    vocab = model.config.vocab_size
    data = synthetic(
        args.train_steps * args.batch_size, vocab, args.mean_length, 1, args.length_spread
    )
    config = TrainConfig(
        mode=mode,
        epochs=1,
        batch_size=args.batch_size,
        token_budget=args.token_budget,
        max_length=2 * args.mean_length,
        max_steps=args.train_steps,
        packing=True,
        gradient_checkpointing=args.gradient_checkpointing,
        precision="bf16" if args.device.startswith("cuda") else "fp32",
        lora_rank=16,
    )
    model, report = train_with_trainer(model, _Pad(), data, [], config, None)
    del model
    if args.device.startswith("cuda"):
        torch.cuda.empty_cache()
    t = report.throughput
    return {
        "mode": mode,
        "steps": report.steps,
        "examples_per_step": args.batch_size if args.token_budget is None else None,
        "batching": report.batching,
        "packing": report.packing,
        "dtypes": report.dtypes,
        "tokens_per_second": t["tokens_per_second"],
        "labeled_steps_per_second": t["labeled_steps_per_second"],
        "mfu": t["mfu"],
        "peak_memory_gib": t["peak_memory_bytes"] / 2**30,
        "seconds": t["seconds"],
        "parameters": t["parameters"],
        "device": t["device"],
    }


def bench_scoring(args) -> dict:
    import torch

    from active_learning.prm import throughput
    from active_learning.prm.scoring import ScoreStats, score_encoded

    model = build(args.preset, args.device, "sdpa").eval()
    data = synthetic(args.solutions, model.config.vocab_size, args.mean_length, seed=3)
    stats = ScoreStats()
    # warm-up (kernel selection), not timed
    score_encoded(model, data[: args.score_batch], 0, batch_size=args.score_batch)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.monotonic()
    score_encoded(
        model,
        data,
        0,
        batch_size=args.score_batch,
        token_budget=args.score_token_budget,
        stats=stats,
    )
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.monotonic() - started
    tokens = sum(len(e.input_ids) for e in data)
    t = throughput.measure(
        kind="scoring",
        model=model,
        tokens=tokens,
        labeled_steps=sum(len(e.step_ends) for e in data),
        seconds=seconds,
        device=torch.device(args.device),
    )
    return {
        "solutions": len(data),
        "mean_tokens": tokens / len(data),
        "seconds": seconds,
        "solutions_per_hour": len(data) / seconds * 3600,
        "tokens_per_second": t.tokens_per_second,
        "mfu": t.mfu,
        "padding_share": 1 - tokens / stats.padded_tokens,
        "peak_memory_gib": t.peak_memory_bytes / 2**30,
        "device": t.device,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="qwen2.5-1.5b")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--train-steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16, help="solutions per step")
    parser.add_argument("--mean-length", type=int, default=400)
    parser.add_argument(
        "--length-spread", type=float, default=1 / 8, help="sd of the lengths / the mean"
    )
    parser.add_argument(
        "--token-budget",
        type=int,
        default=None,
        help="training: tokens per micro-batch instead of --batch-size solutions",
    )
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--solutions", type=int, default=20_000)
    parser.add_argument("--score-batch", type=int, default=256)
    parser.add_argument("--score-token-budget", type=int, default=131_072)
    parser.add_argument("--modes", default="full,lora,score")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--attn",
        default="sdpa",
        help="training attention: sdpa (length-grouped padding) or flash_attention_2 / "
        "flex_attention (padding-free packing)",
    )
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
    out = Path(os.environ.get("OUT") or Path(__file__).parent / "out")
    out.mkdir(parents=True, exist_ok=True)
    result = {"preset": args.preset, "args": vars(args), "torch": torch.__version__}
    if args.device.startswith("cuda"):
        result["gpu"] = torch.cuda.get_device_name(0)
    for mode in args.modes.split(","):
        started = time.monotonic()
        if mode in ("full", "lora"):
            result[mode] = bench_training(args, mode)
        elif mode == "score":
            result["score"] = bench_scoring(args)
        print(mode, f"{time.monotonic() - started:.0f} s", json.dumps(result.get(mode)), flush=True)
        (out / f"bench_prm_{args.preset}_{args.device.split(':')[0]}.json").write_text(
            json.dumps(result, indent=2)
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
