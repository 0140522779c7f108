"""Time the parts of the demo's first loop turn on CPU (issue 14 point 2), without Django.

The demo loop (setup_demo_loop): head mode on smollm2 cut to its first 4 layers, max length
1024, a pool of ProcessBench MATH solutions. This loads the backbone (the dequantised copy is
cached under var/models/backbones after the first load), trains the head on N labeled
solutions, then scores a pool of M candidates twice: once computing the backbone's features
(the first run) and once from the feature cache (every later run).

Run: PYTHONPATH=$PWD .venv/bin/python bench/bench_prm_demo_turn.py --labeled 10 --pool 226
Prints one JSON line of seconds; record `uptime` with it (the machine is shared).
"""

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labeled", type=int, default=10)
    parser.add_argument("--pool", type=int, default=226)
    parser.add_argument("--keep-layers", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from active_learning.prm import backbones, data, features
    from active_learning.prm.scoring import ScoreStats, score
    from active_learning.prm.tokenization import StepTokenizer
    from active_learning.prm.training import TrainConfig, train

    torch.set_num_threads(args.threads)
    records = data.read_processbench(DATA / "processbench_math.json")
    labeled = data.from_processbench(records[: args.labeled])
    pool = [
        data.Example(data.strip_suffix(r["problem"]), r["steps"], [None] * len(r["steps"]))
        for r in records[args.labeled : args.labeled + args.pool]
    ]
    times = {}
    started = time.monotonic()
    model, tokenizer = backbones.load(
        "smollm2", cache_dir=ROOT / "var" / "models" / "backbones", keep_layers=args.keep_layers
    )
    times["load_backbone"] = time.monotonic() - started
    step_tokenizer = StepTokenizer(tokenizer, max_length=args.max_length)
    cache = features.FeatureCache()
    with features.cached(cache):
        started = time.monotonic()
        model, _report = train(
            model, step_tokenizer, labeled, [], TrainConfig(mode="head", epochs=3, batch_size=8)
        )
        times["train_head"] = time.monotonic() - started
        for label in ("score_first_pass", "score_from_cache"):
            stats = ScoreStats()
            started = time.monotonic()
            list(score(model, step_tokenizer, pool, stats=stats))
            times[label] = time.monotonic() - started
            times[label + "_tokens"] = stats.tokens
            times[label + "_from_cache"] = stats.from_cache
    times["pool"] = len(pool)
    times["labeled"] = len(labeled)
    times["loadavg"] = os.getloadavg()
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in times.items()}))


if __name__ == "__main__":
    main()
