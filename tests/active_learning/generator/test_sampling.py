"""Engine choice and loading errors of the sampler (no Django)."""

import pytest

from active_learning.generator import sampling


def test_vllm_is_chosen_only_on_cuda_when_installed_and_not_for_gguf(monkeypatch):
    """vLLM is an optional GPU extra: never on CPU, never when it is not importable, never for
    the GGUF demo backbone (catches a CPU worker that tries to import vllm)."""
    monkeypatch.setattr(sampling, "vllm_available", lambda: True)
    assert sampling.engine_for("org/model", "cuda") == sampling.VLLM
    assert sampling.engine_for("org/model", "cuda:1") == sampling.VLLM
    assert sampling.engine_for("org/model", "cpu") == sampling.TRANSFORMERS
    assert sampling.engine_for("smollm2", "cuda") == sampling.TRANSFORMERS
    monkeypatch.setattr(sampling, "vllm_available", lambda: False)
    assert sampling.engine_for("org/model", "cuda") == sampling.TRANSFORMERS


def test_vllm_is_not_installed_here():
    assert sampling.vllm_available() is False  # the CPU install never pulls it


def test_a_folder_without_a_model_is_named(tmp_path):
    """An existing folder that holds no model: the error names it (not a bare OSError)."""
    folder = tmp_path / "empty"
    folder.mkdir()
    with pytest.raises(sampling.GeneratorError, match=r"generator model '.*empty' cannot be"):
        sampling.load_generator(str(folder))


def test_chat_template_needs_one():
    from tests.active_learning.prm.conftest import byte_tokenizer

    with pytest.raises(sampling.GeneratorError, match="no chat template"):
        sampling.build_prompts(byte_tokenizer(), ["p"], use_chat_template=True)
    assert sampling.build_prompts(byte_tokenizer(), ["p"]) == ["p"]


def test_vllm_wraps_the_prompts_in_the_chat_template_when_asked(monkeypatch):
    """The vLLM engine (GPU workers) was given the bare prompts even with `use_chat_template`,
    so an instruct model was prompted differently than under transformers. Catches the option
    ignored by one engine (a stand-in `vllm` module records what it is given)."""
    import sys
    import types

    seen = {}

    class Tokenizer:
        chat_template = "{{ messages }}"

        def apply_chat_template(self, messages, tokenize, add_generation_prompt):
            return f"<user>{messages[0]['content']}</user><assistant>"

    class LLM:
        def __init__(self, model, seed):
            pass

        def get_tokenizer(self):
            return Tokenizer()

        def generate(self, prompts, params):
            seen["prompts"] = prompts
            out = types.SimpleNamespace(text="x", token_ids=[1], finish_reason="stop")
            return [types.SimpleNamespace(outputs=[out] * p.n) for p in params]

    class SamplingParams:
        def __init__(self, **kwargs):
            self.__dict__.update(kwargs)

    fake = types.SimpleNamespace(LLM=LLM, SamplingParams=SamplingParams)
    monkeypatch.setitem(sys.modules, "vllm", fake)
    common = {"n": 2, "temperature": 1.0, "top_p": 1.0, "max_new_tokens": 4, "seed": 0}
    samples = sampling.sample_vllm("org/m", ["P1"], use_chat_template=True, **common)
    assert seen["prompts"] == ["<user>P1</user><assistant>"] and len(samples) == 2
    sampling.sample_vllm("org/m", ["P1"], **common)
    assert seen["prompts"] == ["P1"]
