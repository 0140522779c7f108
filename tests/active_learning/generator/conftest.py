"""Tiny causal language models built in code (no downloads) for the generator's tests."""

import pytest
import torch

from active_learning.generator.sampling import tiny_causal_lm
from tests.active_learning.prm.conftest import byte_tokenizer
from tests.active_learning.test_loop_worker import loop_env, workers  # noqa: F401 (fixtures)


def tiny_generator(*, blank: bool = False):
    """(model, tokenizer): a random 2-layer Llama over a byte tokenizer, left-padding. With
    `blank`, every logit is 0, so greedy decoding picks token 0 (the pad token) forever: a
    generator whose every output decodes to the empty text."""
    tokenizer = byte_tokenizer()
    tokenizer.padding_side = "left"
    model = tiny_causal_lm(tokenizer).eval()
    if blank:
        with torch.no_grad():
            model.lm_head.weight.zero_()
    return model, tokenizer


@pytest.fixture(scope="session")
def tiny_generator_dir(tmp_path_factory) -> str:
    model, tokenizer = tiny_generator()
    folder = tmp_path_factory.mktemp("tiny-generator")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def blank_generator_dir(tmp_path_factory) -> str:
    model, tokenizer = tiny_generator(blank=True)
    folder = tmp_path_factory.mktemp("blank-generator")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture
def generator_settings(settings, tmp_path):
    settings.MODELS_DIR = tmp_path / "models"
    return settings
