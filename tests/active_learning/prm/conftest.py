import random

import pytest

from active_learning.prm.data import NEGATIVE, POSITIVE, Example
from active_learning.prm.model import byte_tokenizer  # the tests' tokenizer, re-exported


@pytest.fixture(scope="session")
def tokenizer():
    return byte_tokenizer()


def synthetic_examples(count: int, seed: int) -> list[Example]:
    """Arithmetic-looking solutions; a wrong step says 'oops', which a model can learn to spot.
    Every solution stops at its first wrong step, as PRM800K labelings do."""
    rng = random.Random(seed)
    examples = []
    for _ in range(count):
        steps, labels = [], []
        for _ in range(rng.randint(2, 5)):
            a, b = rng.randint(1, 9), rng.randint(1, 9)
            if rng.random() < 0.3:
                steps.append(f"oops {a}+{b}={a + b + 1}")
                labels.append(NEGATIVE)
                break
            steps.append(f"so {a}+{b}={a + b}")
            labels.append(POSITIVE)
        examples.append(Example(f"add {rng.randint(1, 99)}", steps, labels))
    return examples
