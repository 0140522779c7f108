"""CPU benchmark of the PRM loop with the shipped demo backbone (issue 6, points 4 and 10).

1. Turns ProcessBench MATH solutions into PRM800K-format labelings with oracle ratings (steps
   before the experts' first error Positive, the error step Negative) and imports N of them
   into a fresh SQLite project.
2. `train_prm` on them with the demo backbone (SmolLM2-135M-Instruct, frozen, head mode,
   first K layers), timed: the demo goal is ~1,000 labeled solutions in under 10 minutes.
3. Scoring throughput (solutions/s) on held-out ProcessBench MATH solutions.
4. `evaluate_prm` on ProcessBench GSM8K (a different source: an honest held-out check).

Run: .venv/bin/python bench/bench_prm_cpu.py --labelings 1000 --keep-layers 12
Writes bench/out/prm-cpu/ and prints a Markdown summary for docs/benchmarks.md.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def prm800k_records(processbench: list[dict], limit: int) -> list[str]:
    lines = []
    for i, record in enumerate(processbench[:limit]):
        label = record["label"]
        steps = record["steps"] if label < 0 else record["steps"][: label + 1]
        ratings = [1] * len(steps) if label < 0 else [1] * label + [-1]
        lines.append(
            json.dumps(
                {
                    "labeler": str(uuid.UUID(int=i % 7 + 1)),
                    "timestamp": f"2026-01-01T00:00:{i % 60:02d}.{i:06d}",
                    "generation": 0,
                    "is_quality_control_question": False,
                    "is_initial_screening_question": False,
                    "question": {
                        "problem": record["problem"],
                        "ground_truth_answer": None,
                        "pre_generated_steps": record["steps"],
                        "pre_generated_answer": None,
                        "pre_generated_verifier_score": None,
                    },
                    "label": {
                        "steps": [
                            {
                                "completions": [{"text": t, "rating": r, "flagged": False}],
                                "human_completion": None,
                                "chosen_completion": None if r == -1 else 0,
                            }
                            for t, r in zip(steps, ratings, strict=True)
                        ],
                        "total_time": 60000,
                        "finish_reason": "found_error" if label >= 0 else "solution",
                    },
                }
            )
        )
    return lines


def manage(env, *args) -> tuple[float, str]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "manage.py", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        sys.exit(f"manage.py {' '.join(map(str, args))} failed:\n{result.stderr[-4000:]}")
    return time.monotonic() - started, result.stdout + result.stderr


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--labelings", type=int, default=1000)
    parser.add_argument("--keep-layers", type=int, default=12)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--score", type=int, default=200, help="solutions to time scoring on")
    args = parser.parse_args()
    out = ROOT / "bench" / "out" / "prm-cpu"
    out.mkdir(parents=True, exist_ok=True)
    db = out / "bench.sqlite3"
    db.unlink(missing_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "PRM_MODELS_DIR": str(out / "models"),
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
    }
    env.pop("REDIS_URL", None)
    processbench = json.loads((DATA / "processbench_math.json").read_text())
    train_part, score_part = processbench[: args.labelings], processbench[-args.score :]
    (out / "labelings.jsonl").write_text(
        "\n".join(prm800k_records(train_part, args.labelings)) + "\n"
    )
    (out / "score.json").write_text(json.dumps(score_part))
    manage(env, "migrate", "-v0")
    manage(env, "import_prm800k", out / "labelings.jsonl", "--project", "bench")
    # warm the converted backbone cache so the timed run measures training, not GGUF decoding
    cache_seconds, _ = manage(
        env,
        "shell",
        "-c",
        "from django.conf import settings; from active_learning.prm import "
        "backbones; backbones.load('smollm2', cache_dir=settings.MODELS_DIR"
        " / 'backbones')",
    )
    train_seconds, _ = manage(
        env,
        "train_prm",
        "--project",
        "bench",
        "--mode",
        "head",
        "--epochs",
        "20",
        "--keep-layers",
        args.keep_layers,
        "--max-length",
        args.max_length,
        "--batch-size",
        8,
    )
    score_seconds, _ = manage(
        env,
        "score_solutions",
        "--model",
        "latest",
        "--input",
        out / "score.json",
        "--output",
        out / "scores.jsonl",
    )
    eval_seconds, _ = manage(
        env,
        "evaluate_prm",
        "--model",
        "latest",
        "--processbench",
        DATA / "processbench_gsm8k.json",
        "--report",
        out / "report-gsm8k",
    )
    report = json.loads((out / "report-gsm8k.json").read_text())
    _, metrics = manage(
        env,
        "shell",
        "-c",
        "import json; from active_learning.models import ModelVersion; "
        "v = ModelVersion.objects.latest('id'); "
        "print(json.dumps({'train': v.metrics['train'], 'auc': "
        "v.metrics.get('held_out_step_roc_auc'), 'data': v.data_snapshot}))",
    )
    metrics = json.loads(metrics.strip().splitlines()[-1])
    tokens = metrics["train"]["train_tokens"]
    summary = {
        "machine": f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}",
        "labelings": args.labelings,
        "keep_layers": args.keep_layers,
        "max_length": args.max_length,
        "gguf_decode_and_cache_seconds": round(cache_seconds, 1),
        "train_wall_seconds": round(train_seconds, 1),
        "train_tokens": tokens,
        "train_tokens_per_second": round(tokens / metrics["train"]["seconds"], 1),
        "held_out_step_roc_auc": metrics["auc"],
        "score_solutions_per_second": round(args.score / score_seconds, 2),
        "score_wall_seconds": round(score_seconds, 1),
        "gsm8k_eval_seconds": round(eval_seconds, 1),
        "gsm8k_report": report,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
