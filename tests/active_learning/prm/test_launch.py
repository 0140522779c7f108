"""The torchrun entry point (`python -m active_learning.prm.launch`): 2 processes, gloo, CPU."""

import json
import os
import subprocess
import sys

import pytest

from active_learning.prm.launch import write_examples
from active_learning.prm.model import load_checkpoint, tiny_model
from tests.active_learning.prm.conftest import synthetic_examples
from tests.conftest import ROOT


def torchrun(args: list[str], processes: int = 2) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "torchrun"),
            "--standalone",  # a free local port (--master_port 0 hangs)
            "--nproc_per_node",
            str(processes),
            *args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def launch_inputs(tokenizer, tmp_path):
    backbone = tmp_path / "backbone"
    tiny_model(tokenizer).save_pretrained(backbone)
    tokenizer.save_pretrained(backbone)
    write_examples(synthetic_examples(32, 1), tmp_path / "train.jsonl")
    write_examples(synthetic_examples(8, 2), tmp_path / "val.jsonl")
    return [
        "-m",
        "active_learning.prm.launch",
        "--examples",
        str(tmp_path / "train.jsonl"),
        "--val",
        str(tmp_path / "val.jsonl"),
        "--backbone",
        str(backbone),
    ]


def test_two_process_ddp_trains_and_saves_one_model(launch_inputs, tmp_path):
    """torchrun, 2 processes, gloo on CPU: Trainer wraps the model in DDP, both ranks train,
    rank 0 alone writes the checkpoint."""
    out = tmp_path / "out"
    config = {"mode": "full", "epochs": 1, "batch_size": 4, "max_length": 256}
    result = torchrun([*launch_inputs, "--out", str(out), "--config", json.dumps(config)])
    assert result.returncode == 0, result.stderr[-4000:]
    _, _, metadata = load_checkpoint(out)
    assert metadata["world_size"] == 2
    # 32 examples, 4 per device, 2 devices: 4 optimizer steps (8 on one process)
    assert metadata["metrics"]["train"]["steps"] == 4
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".safetensors") == [
        "model.safetensors"
    ]


def test_two_process_ddp_with_a_token_budget_splits_the_batches_between_the_processes(
    launch_inputs, tmp_path
):
    """Each process takes every other token-budget batch: one optimizer step per pair of
    batches. Would catch each process running all the batches (twice the steps) or accelerate
    sharding the already-shared batches again (half the steps, half the examples unused)."""
    out = tmp_path / "out"
    config = {"mode": "full", "epochs": 1, "token_budget": 600, "max_length": 256}
    result = torchrun([*launch_inputs, "--out", str(out), "--config", json.dumps(config)])
    assert result.returncode == 0, result.stderr[-4000:]
    _, _, metadata = load_checkpoint(out)
    report = metadata["metrics"]["train"]
    batches = report["batching"]["batches_per_epoch"]
    assert batches % 2 == 0 and report["batching"]["largest_batch_tokens"] <= 600  # evened out
    assert report["steps"] == batches // 2
