"""Generation throughput of the generator (issue 18 point 8): solutions per hour on CPU with the
shipped demo backbone and a tiny model, and on a GPU with a 1.5B-shaped model of random weights
(transformers `generate`, and vLLM where it is installed).

It samples N solutions for each of P MATH test problems (demo/data/math_test_problems.jsonl)
with the generator's default PRM800K-style prompt and the same code path the loop uses
(active_learning.generator.sampling.sample_batches, then parsing), and reports:

- load seconds (model and tokenizer; the GGUF demo backbone is dequantised on first use);
- sampling wall seconds, solutions/s and solutions/hour, new tokens/s;
- how the texts parsed (ok / no_answer / no_steps): random weights never write an answer.

Random-weight models never emit end-of-sequence, so every solution runs to --max-new-tokens:
the figure is for solutions of exactly that length. A trained model stops earlier on short
problems, so real throughput in solutions/hour depends on its answer lengths.

Run (no Django; nothing downloaded):
  PYTHONPATH=$PWD .venv/bin/python bench/bench_generation.py --model smollm2 --problems 8 -n 4
  PYTHONPATH=$PWD .venv/bin/python bench/bench_generation.py --model tiny --problems 16 -n 4
  # GPU (one H100/H200): transformers, then vLLM when installed
  PYTHONPATH=$PWD .venv/bin/python bench/bench_generation.py --model qwen2.5-1.5b-random \
      --device cuda --problems 64 -n 16 --batch-size 256 --max-new-tokens 512 --engine all
Writes a JSON line per engine to --out (default bench/out/generation.jsonl) and prints it.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROBLEMS = ROOT / "demo" / "data" / "math_test_problems.jsonl"


def byte_tokenizer():
    """The tests' byte-level tokenizer (active_learning.prm.model), padding on the left as
    batched generation wants."""
    from active_learning.prm.model import byte_tokenizer as build

    made = build()
    made.padding_side = "left"
    return made


def qwen_1_5b_random(device: str):
    """Qwen2.5-1.5B's shape (hidden 1536, 28 layers, 12 heads / 2 KV, MLP 8960, vocab 151,936)
    with random weights, bf16 on `device`; the tokenizer is the demo backbone's (SmolLM2's,
    49,152 tokens: only ids matter here, the embedding keeps Qwen's vocabulary size)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from active_learning.generator.sampling import load_generator

    _, tokenizer = load_generator("smollm2", device="cpu", cache_dir=cache_dir())
    config = Qwen2Config(
        vocab_size=151_936,
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        max_position_embeddings=32_768,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        torch_dtype=torch.bfloat16,
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.eval(), tokenizer


def cache_dir() -> Path:
    return Path(os.environ.get("PRM_MODELS_DIR", ROOT / "var" / "models")) / "generators"


def load(name: str, device: str):
    from active_learning.generator.sampling import load_generator, tiny_causal_lm

    if name == "tiny":
        tokenizer = byte_tokenizer()
        return tiny_causal_lm(tokenizer, hidden_size=64, layers=2).eval().to(device), tokenizer
    if name == "qwen2.5-1.5b-random":
        return qwen_1_5b_random(device)
    return load_generator(name, device=device, cache_dir=cache_dir())


def parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def run_transformers(args, prompts) -> dict:
    import torch

    from active_learning.generator.parsing import parse_solution
    from active_learning.generator.sampling import sample_batches

    started = time.perf_counter()
    model, tokenizer = load(args.model, args.device)
    load_seconds = time.perf_counter() - started
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    statuses, tokens, samples = Counter(), 0, 0
    started = time.perf_counter()
    for batch in sample_batches(
        model,
        tokenizer,
        prompts,
        n=args.samples,
        temperature=args.temperature,
        top_p=args.top_p,
        max_new_tokens=args.max_new_tokens,
        seed=0,
        batch_size=args.batch_size,
    ):
        for sample in batch:
            statuses[parse_solution(sample.text).status] += 1
            tokens += sample.new_tokens
            samples += 1
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() if args.device.startswith("cuda") else None
    return figures(args, "transformers", load_seconds, seconds, samples, tokens, statuses) | {
        "parameters": parameters(model),
        "peak_memory_bytes": peak,
    }


def run_vllm(args, prompts) -> dict:  # pragma: no cover - GPU with vLLM only
    from active_learning.generator.parsing import parse_solution
    from active_learning.generator.sampling import sample_vllm

    model, tokenizer = load(args.model, "cpu" if args.model != "tiny" else args.device)
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        del model
        started = time.perf_counter()
        samples = sample_vllm(
            folder,
            prompts,
            n=args.samples,
            temperature=args.temperature,
            top_p=args.top_p,
            max_new_tokens=args.max_new_tokens,
            seed=0,
        )
        seconds = time.perf_counter() - started  # includes vLLM's engine start
    statuses = Counter(parse_solution(s.text).status for s in samples)
    tokens = sum(s.new_tokens for s in samples)
    return figures(args, "vllm", 0.0, seconds, len(samples), tokens, statuses)


def figures(args, engine, load_seconds, seconds, samples, tokens, statuses) -> dict:
    return {
        "model": args.model,
        "engine": engine,
        "device": args.device,
        "threads": args.threads,
        "problems": args.problems,
        "samples_per_problem": args.samples,
        "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "load_seconds": round(load_seconds, 2),
        "seconds": round(seconds, 2),
        "solutions": samples,
        "solutions_per_second": round(samples / seconds, 4),
        "solutions_per_hour": round(3600 * samples / seconds),
        "new_tokens": tokens,
        "tokens_per_second": round(tokens / seconds, 1),
        "parse": dict(statuses),
        "machine": platform.machine(),
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", default="smollm2", help="smollm2, tiny, qwen2.5-1.5b-random, id or path"
    )
    parser.add_argument("--problems", type=int, default=8)
    parser.add_argument("--samples", "-n", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--engine", choices=["transformers", "vllm", "all"], default="transformers")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "generation.jsonl"))
    args = parser.parse_args()
    import torch

    from active_learning.generator.options import DEFAULT_TEMPLATE
    from active_learning.generator.sampling import vllm_available

    if args.threads:
        torch.set_num_threads(args.threads)
    args.threads = torch.get_num_threads()
    lines = PROBLEMS.read_text(encoding="utf-8").splitlines()[: args.problems]
    prompts = [DEFAULT_TEMPLATE.format(problem=json.loads(line)["problem"]) for line in lines]
    args.problems = len(prompts)
    results = []
    if args.engine in ("transformers", "all"):
        results.append(run_transformers(args, prompts))
    if args.engine in ("vllm", "all"):
        if vllm_available() and args.device.startswith("cuda"):
            results.append(run_vllm(args, prompts))
        else:
            print("vLLM: not installed or not on a CUDA device; skipped", file=sys.stderr)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as handle:
        for result in results:
            handle.write(json.dumps(result) + "\n")
            print(json.dumps(result))


if __name__ == "__main__":
    main()
