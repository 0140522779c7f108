"""What a PRM800K record says its problem and solution rows hold, and the keys and digests the
import (labeling/services/prm800k_rows.py) matches them by: `StoredFields.of(record)`, the
solution key (problem id + sha256 of the steps) and the short digest of a stored value."""

import hashlib
import json
from dataclasses import dataclass

from labeling import prm800k

SOURCE_PHASE2 = "prm800k"
SOURCE_PHASE1 = "prm800k-phase1"


@dataclass(slots=True)
class StoredFields:
    """What a record's problem and solution rows hold when this record defines them."""

    problem_key: bytes  # sha256 of the problem text (Problem.text_hash)
    problem_text: str
    reference_solution: str
    reference_answer: str | None
    solution_steps: list[str]
    steps_digest: bytes  # sha256 of json.dumps(steps) (Solution.steps_hash)
    final_answer: str | None
    source: str

    @classmethod
    def of(cls, record: dict) -> "StoredFields":
        question = record["question"]
        text = question["problem"]
        if "pre_generated_steps" in question:
            steps = question["pre_generated_steps"]
            final_answer = question.get("pre_generated_answer")
            source = SOURCE_PHASE2
        else:
            # Phase 1 has no pre-generated solution: the labeled trajectory is the solution.
            steps = prm800k.trajectory(record["label"]["steps"])
            final_answer = prm800k.answer_of(steps)
            source = SOURCE_PHASE1
        return cls(
            problem_key=hashlib.sha256(text.encode("utf-8")).digest(),
            problem_text=text,
            reference_solution=question.get("ground_truth_solution") or "",
            reference_answer=question.get("ground_truth_answer"),
            solution_steps=steps,
            steps_digest=hashlib.sha256(json.dumps(steps).encode("utf-8")).digest(),
            final_answer=final_answer,
            source=source,
        )


def solution_key(problem_id: int, steps_digest: bytes) -> bytes:
    return problem_id.to_bytes(8, "big") + steps_digest


def from_hex(value: str) -> bytes | None:
    """The 32 bytes of a sha256 hex digest; None for anything else."""
    if len(value) != 64:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def field_digest(value) -> bytes:
    """A short digest of a stored field value, to tell whether a record's value equals it."""
    return hashlib.blake2b(json.dumps(value).encode("utf-8"), digest_size=16).digest()
