"""Facts about a run started by `torchrun` or `accelerate launch` (no Django).

Both launchers set WORLD_SIZE, RANK and LOCAL_RANK in every process they start (torch.distributed
"environment variable initialization"); a plain `python` run has none of them and is a world
of one. Rank 0 is the process that writes checkpoints and publishes model versions.
"""

import hashlib
import os


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main_process() -> bool:
    return rank() == 0


def examples_fingerprint(encoded) -> str:
    """sha256 over the token ids and labels of encoded examples, in order."""
    digest = hashlib.sha256()
    for e in encoded:
        digest.update(repr((e.input_ids, e.labels)).encode())
    return digest.hexdigest()


def check_same_examples(encoded) -> None:
    """Under DDP or FSDP every process must hold the same training examples in the same order
    (each takes its share of every batch by position): the processes exchange a fingerprint,
    and all of them raise ValueError when one differs (say, labels arrived in the database
    between two processes' reads). Needs the process group (Trainer's arguments set it up); a
    no-op in a world of one."""
    if world_size() == 1:
        return
    import torch.distributed as dist

    if not dist.is_initialized():
        return
    mine = examples_fingerprint(encoded)
    every = [None] * dist.get_world_size()
    dist.all_gather_object(every, mine)
    differing = [r for r, fingerprint in enumerate(every) if fingerprint != every[0]]
    if differing:
        raise ValueError(
            f"process(es) {differing} hold other training examples than rank 0 "
            "(the data changed between their reads?): every process must train on the same ones"
        )
