"""Throughput figures of a training or scoring run (no Django).

Model FLOPs follow the usual dense-transformer estimate (Kaplan et al. 2020, "Scaling Laws for
Neural Language Models", section 2.1; Chowdhery et al. 2022, "PaLM", appendix B): a forward
pass costs about 2·N FLOPs per token and a training step (forward + backward) about 6·N, where N
is the number of parameters (embeddings excluded, as in PaLM's MFU; the attention term
6·L·H·Q·T is left out, small at the lengths trained here). Only real tokens count: padding
does no useful work, so a padded run shows a lower MFU than a packed one.

MFU = achieved model FLOPs per second / the device's peak dense bf16 FLOPs per second (the
vendor data sheet figure without sparsity). On a device not in `PEAK_BF16_FLOPS` (any CPU) the
MFU is None: there is no agreed peak to divide by.
"""

import resource
import sys
from dataclasses import asdict, dataclass

import torch

# Dense bf16 tensor-core peaks (FLOP/s, no sparsity) from NVIDIA's data sheets; matched by a
# substring of torch.cuda.get_device_name(). Order matters: the first match wins.
PEAK_BF16_FLOPS = (
    ("H200", 989.4e12),
    ("H100 PCIe", 756.0e12),
    ("H100", 989.4e12),  # SXM
    ("A100", 312.0e12),
    ("L40S", 362.05e12),
    ("L4", 121.0e12),
    ("A10G", 70.0e12),
    ("A10", 125.0e12),
    ("RTX 4090", 165.2e12),
    ("RTX 3090", 71.0e12),
)


def device_peak_flops(device: torch.device | str | None = None) -> tuple[str, float | None]:
    """(device name, peak dense bf16 FLOP/s or None when unknown / CPU)."""
    device = torch.device(device) if device is not None else None
    if device is None or device.type != "cuda" or not torch.cuda.is_available():
        return "cpu", None
    name = torch.cuda.get_device_name(device)
    for key, peak in PEAK_BF16_FLOPS:
        if key in name:
            return name, peak
    return name, None


def non_embedding_parameters(model) -> int:
    """Parameters excluding the input embedding table (counted by PaLM's MFU as well)."""
    total = sum(p.numel() for p in model.parameters())
    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if embeddings is not None:
        total -= embeddings.weight.numel()
    return total


def peak_memory_bytes(device: torch.device | str | None = None) -> int:
    """Peak allocated accelerator memory on CUDA; the process's peak resident memory on CPU."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda" and torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated(device))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)  # Linux reports KiB


@dataclass
class Throughput:
    kind: str  # "training" or "scoring"
    tokens: int  # real (unpadded) tokens processed, all epochs
    labeled_steps: int  # step labels trained on (training) or steps scored (scoring)
    seconds: float
    parameters: int
    tokens_per_second: float | None
    labeled_steps_per_second: float | None
    model_flops_per_second: float | None
    device: str
    peak_flops: float | None
    mfu: float | None  # 0..1; None without a known peak
    peak_memory_bytes: int

    def as_dict(self) -> dict:
        return asdict(self)


def measure(
    *,
    kind: str,
    model,
    tokens: int,
    labeled_steps: int,
    seconds: float,
    device: torch.device | str | None = None,
    world_size: int = 1,
) -> Throughput:
    """Throughput of `tokens` real tokens in `seconds` wall-clock seconds (summed over
    `world_size` devices for the FLOP rate; the peak is multiplied by it too).

    Raises ValueError for an unknown `kind`."""
    if kind not in ("training", "scoring"):
        raise ValueError("kind must be 'training' or 'scoring'")
    parameters = non_embedding_parameters(model)
    per_token = (6 if kind == "training" else 2) * parameters
    rate = tokens / seconds if seconds > 0 else None
    flops = per_token * rate if rate is not None else None
    name, peak = device_peak_flops(device)
    peak_total = peak * world_size if peak else None
    return Throughput(
        kind=kind,
        tokens=int(tokens),
        labeled_steps=int(labeled_steps),
        seconds=round(seconds, 3),
        parameters=parameters,
        tokens_per_second=rate,
        labeled_steps_per_second=labeled_steps / seconds if seconds > 0 else None,
        model_flops_per_second=flops,
        device=name,
        peak_flops=peak_total,
        mfu=flops / peak_total if flops is not None and peak_total else None,
        peak_memory_bytes=peak_memory_bytes(device),
    )
