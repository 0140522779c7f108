"""Loading, building and saving PRM models (no Django).

The PRM is `AutoModelForTokenClassification` with three classes over a backbone given as a
Hugging Face id or a local path (a causal decoder by default, so a step's prediction cannot see
later steps). A checkpoint is a folder with safetensors weights, the config, the tokenizer and
`prm_metadata.json` (backbone, training-data fingerprint, label counts, settings, metrics).
"""

import json
import os
from pathlib import Path

import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer

from active_learning.prm.data import CLASS_NAMES

METADATA_FILE = "prm_metadata.json"
NUM_CLASSES = len(CLASS_NAMES)


class BackboneError(RuntimeError):
    """A backbone that cannot be loaded; the message names it."""


def _label_maps() -> dict:
    return {
        "id2label": dict(enumerate(CLASS_NAMES)),
        "label2id": {name: i for i, name in enumerate(CLASS_NAMES)},
    }


def pick_device(device: str | None = None) -> torch.device:
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_backbone(
    name_or_path: str,
    *,
    gguf_file: str | None = None,
    keep_layers: int | None = None,
    device: str | None = None,
    attn_implementation: str | None = None,
    dtype: torch.dtype | None = None,
):
    """(model, tokenizer) for a new PRM on `name_or_path`. Fails at once, naming the backbone,
    when it is neither a local folder nor available offline / from the hub."""
    path = Path(name_or_path)
    looks_local = path.is_absolute() or name_or_path.startswith((".", "~")) or path.exists()
    if looks_local and not path.exists():
        raise BackboneError(f"backbone {name_or_path!r}: no such file or folder")
    kwargs = {"num_labels": NUM_CLASSES, **_label_maps()}
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if dtype is not None:
        kwargs["dtype"] = dtype
    # huggingface_hub reads HF_HUB_OFFLINE once, at import: without this an offline machine
    # that set it later retried the hub for ~45 s before failing
    hub = {"local_files_only": True} if _offline() else {}
    kwargs.update(hub)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            name_or_path, **hub, **({"gguf_file": gguf_file} if gguf_file else {})
        )
        model = AutoModelForTokenClassification.from_pretrained(name_or_path, **kwargs)
    except (OSError, ValueError, ImportError) as exc:
        offline = " (this machine is offline: use a local path)" if _offline() else ""
        raise BackboneError(f"backbone {name_or_path!r} cannot be loaded{offline}: {exc}") from exc
    if gguf_file:
        _forget_gguf_quantization(model)
    if keep_layers is not None:
        keep_first_layers(model, keep_layers)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    return model.to(pick_device(device)), tokenizer


def _forget_gguf_quantization(model) -> None:
    """transformers dequantises GGUF weights to ordinary tensors on load but keeps the model
    marked as quantized, which makes `save_pretrained` refuse it. The weights are plain floats,
    so the mark is dropped and the model saves (and trains) like any other."""
    model.hf_quantizer = None
    if hasattr(model, "is_quantized"):
        model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")


def keep_first_layers(model, count: int) -> None:
    """Keep only the first `count` decoder layers (a cheaper backbone for CPU training)."""
    base = getattr(model, model.base_model_prefix)
    layers = base.layers
    if not 1 <= count <= len(layers):
        raise ValueError(f"keep_layers must be between 1 and {len(layers)}")
    base.layers = torch.nn.ModuleList(list(layers)[:count])
    model.config.num_hidden_layers = count
    if getattr(model.config, "layer_types", None):
        model.config.layer_types = model.config.layer_types[:count]


def byte_tokenizer():
    """A byte-level tokenizer with no merges, built in code (downloads nothing): 256 byte
    tokens plus <pad> (0), <s> (1) and </s> (2). For the tiny models below, in tests and
    benchmarks."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2}
    for char in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[char] = len(vocab)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )


def tiny_llama_config(tokenizer, *, hidden_size: int, layers: int, max_positions: int, **extra):
    """The config of a small Llama (4 heads, feed-forward twice `hidden_size` wide) over
    `tokenizer`'s vocabulary and special tokens; `extra` goes to `LlamaConfig` as is. Shared by
    the tiny PRM here and the generator's tiny causal LM (active_learning.generator.sampling)."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=max_positions,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **extra,
    )


def tiny_model(tokenizer, *, hidden_size: int = 64, layers: int = 2, seed: int = 0):
    """A small randomly initialised causal PRM (Llama architecture) for tests; downloads
    nothing."""
    from transformers import LlamaForTokenClassification

    torch.manual_seed(seed)
    config = tiny_llama_config(
        tokenizer,
        hidden_size=hidden_size,
        layers=layers,
        max_positions=2048,
        num_labels=NUM_CLASSES,
        **_label_maps(),
    )
    return LlamaForTokenClassification(config)


def save_checkpoint(model, tokenizer, folder: str | Path, metadata: dict) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True))
    return folder


def load_checkpoint(folder: str | Path, device: str | None = None):
    """(model, tokenizer, metadata) of a saved PRM."""
    folder = Path(folder)
    if not (folder / METADATA_FILE).exists():
        raise BackboneError(f"{folder}: not a PRM checkpoint (no {METADATA_FILE})")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForTokenClassification.from_pretrained(folder)
    metadata = json.loads((folder / METADATA_FILE).read_text())
    return model.to(pick_device(device)).eval(), tokenizer, metadata
