"""Turning an example into token ids with one label position per step (no Django).

Layout: the problem, a separator, then each step followed by the step separator. The label of a
step sits on the last token of its separator (so it is predicted after reading the whole step,
and, with a causal backbone, without seeing any later step); every other position is IGNORE.
Steps are encoded one by one and the separator's ids are appended verbatim, so the label token is
the same for every step whatever the tokenizer merges. Truncation drops whole trailing steps,
never part of one.
"""

from dataclasses import dataclass

from active_learning.prm.data import Example

IGNORE = -100  # the label PyTorch's cross-entropy skips
STEP_SEPARATOR = "\n\n"
PROBLEM_PREFIX = "Problem: "
STEPS_PREFIX = "\n\nSolution:\n"


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]  # IGNORE except at step ends with a label
    step_ends: list[int]  # position of each kept step's label token
    kept_steps: int
    truncated: bool


class StepTokenizer:
    """Wraps a Hugging Face tokenizer with the step layout above."""

    def __init__(self, tokenizer, max_length: int = 1536):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.separator_ids = self._ids(STEP_SEPARATOR)
        if not self.separator_ids:
            raise ValueError("the tokenizer encodes the step separator to nothing")
        self.bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = self.tokenizer.eos_token_id
        return 0 if pad is None else pad

    def encode(self, example: Example) -> Encoded:
        return self.encode_many([example])[0]

    def encode_many(self, examples: list[Example]) -> list[Encoded]:
        """Encode several examples with one batched tokenizer call (a fast tokenizer encodes
        the texts in parallel, in Rust); the same ids as encoding each piece on its own."""
        texts: list[str] = []
        for example in examples:
            texts.append(PROBLEM_PREFIX + example.problem.strip() + STEPS_PREFIX)
            texts.extend(step.strip() for step in example.steps)
        ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
        result, at = [], 0
        for example in examples:
            problem_ids = ids[at]
            step_ids = ids[at + 1 : at + 1 + len(example.steps)]
            at += 1 + len(example.steps)
            result.append(self._assemble(problem_ids, step_ids, example.labels))
        return result

    def _assemble(self, problem_ids, step_ids, step_labels) -> Encoded:
        ids = self.bos + list(problem_ids)
        if len(ids) >= self.max_length:
            # A problem longer than the context leaves no room for any step: keep its start.
            ids = ids[: self.max_length - len(self.separator_ids) - 1]
        labels = [IGNORE] * len(ids)
        step_ends = []
        truncated = False
        for piece_ids, label in zip(step_ids, step_labels, strict=True):
            piece = list(piece_ids) + self.separator_ids
            if len(ids) + len(piece) > self.max_length:
                truncated = True
                break
            ids.extend(piece)
            labels.extend([IGNORE] * len(piece))
            step_ends.append(len(ids) - 1)
            if label is not None:
                labels[-1] = label
        return Encoded(ids, labels, step_ends, len(step_ends), truncated)
