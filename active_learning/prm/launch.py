"""Train a PRM outside Django, on one device or several (DDP) (no Django).

    python -m active_learning.prm.launch --examples train.jsonl --val val.jsonl \\
        --backbone /models/Qwen2.5-1.5B --out /models/prm-v1 --config '{"mode": "full"}'
    torchrun --nproc_per_node 8 -m active_learning.prm.launch ...   # one process per GPU
    accelerate launch --num_processes 8 -m active_learning.prm.launch ...

`--examples` and `--val` are JSON Lines of {"problem", "steps", "labels"} (labels: 0 negative,
1 neutral, 2 positive, null not trained on), as `train_prm --export-examples` writes them.
`--config` is a JSON object of TrainConfig fields (`full` or `lora`; `head` mode needs no
second device). transformers.Trainer sees the WORLD_SIZE / RANK variables that torchrun sets
and wraps the model in DistributedDataParallel (NCCL on GPUs, gloo on CPUs), or with
`"fsdp": "full_shard"` (GPUs only) shards it with FSDP2; every process trains on its share of
each batch and only rank 0 writes the checkpoint (`prm_metadata.json` records the world size,
the sharding and the training report). To train and publish a project's model version in one
command, run `torchrun ... manage.py train_prm` instead (docs/training-at-scale.md).

Exit status 0 on success; argparse's 2 on bad arguments; 1 with the error on stderr otherwise.
"""

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from active_learning.prm.data import Example


def read_examples(path: str | Path) -> list[Example]:
    """Examples from JSON Lines of {"problem", "steps", "labels"}; ValueError on a bad line."""
    examples = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                examples.append(Example(row["problem"], list(row["steps"]), list(row["labels"])))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not an example ({exc})") from None
    return examples


def write_examples(examples, path: str | Path) -> int:
    """Write examples as JSON Lines (the format `read_examples` reads); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for e in examples:
            handle.write(json.dumps({"problem": e.problem, "steps": e.steps, "labels": e.labels}))
            handle.write("\n")
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", required=True)
    parser.add_argument("--val", default=None, help="validation examples (early stopping)")
    parser.add_argument("--backbone", required=True, help="a local folder or Hugging Face id")
    parser.add_argument("--out", required=True, help="the checkpoint folder to write")
    parser.add_argument("--config", default="{}", help="JSON object of TrainConfig fields")
    parser.add_argument("--keep-layers", type=int, default=None)
    args = parser.parse_args(argv)

    import torch

    from active_learning.prm import distributed
    from active_learning.prm.model import load_backbone, save_checkpoint
    from active_learning.prm.tokenization import StepTokenizer
    from active_learning.prm.training import TrainConfig, train

    try:
        config = TrainConfig(**json.loads(args.config))
        train_examples = read_examples(args.examples)
        val_examples = read_examples(args.val) if args.val else []
        device = f"cuda:{distributed.local_rank()}" if torch.cuda.is_available() else "cpu"
        model, tokenizer = load_backbone(
            args.backbone,
            keep_layers=args.keep_layers,
            device=device,
            attn_implementation=config.attn_implementation,
        )
        step_tokenizer = StepTokenizer(tokenizer, max_length=config.max_length)
        model, report = train(model, step_tokenizer, train_examples, val_examples, config)
    except (ValueError, OSError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if distributed.is_main_process():
        save_checkpoint(
            model,
            tokenizer,
            args.out,
            {
                "backbone": args.backbone,
                "settings": asdict(config),
                "metrics": {"train": asdict(report)},
                "dtypes": report.dtypes,
                "world_size": report.world_size,
                "fsdp": report.fsdp,
            },
        )
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
