"""The hostile inputs of issue 13 ("Text that breaks things"), as files, with the error each must
give. Shared by the service, API-job and command tests, which run on PostgreSQL and SQLite."""

import copy
import json

from tests.conftest import PRM800K_SAMPLES

SURROGATE = "\ud83d"  # a lone high surrogate: valid JSON (`"\ud83d"`), not valid Unicode
NUL = "\x00"

SURROGATE_ERROR = "contains a lone surrogate (U+D83D): not valid Unicode text (at character 5)"
NUL_ERROR = (
    "contains the control character U+0000 (NUL): only tab and line breaks are allowed "
    "(at character 5)"
)


def sample_records() -> list[dict]:
    return [json.loads(line) for line in PRM800K_SAMPLES.read_text(encoding="utf-8").splitlines()]


def jsonl(records) -> bytes:
    """JSON Lines as Python writes it (`json.dumps`: non-ASCII and surrogates as \\u escapes)."""
    return "".join(json.dumps(r) + "\n" for r in records).encode("ascii")


def pool_with_step(text: str) -> bytes:
    """A two-record candidate pool whose second record's step 1 is `text`."""
    return jsonl(
        [
            {"problem": "1+1?", "steps": ["One plus one.", "# Answer\n\n2"]},
            {"problem": "2+2?", "steps": ["Four.", text, "# Answer\n\n4"]},
        ]
    )


POOL_SURROGATE = (
    pool_with_step(f"bad {SURROGATE} step"),
    f"input.jsonl:2: steps[1]: {SURROGATE_ERROR}",
)
POOL_NUL = (pool_with_step(f"bad {NUL} step"), f"input.jsonl:2: steps[1]: {NUL_ERROR}")


def prm800k_with_step_text(text: str) -> bytes:
    """The real samples, the fourth record's first step text replaced by `text`."""
    records = sample_records()
    records[3] = copy.deepcopy(records[3])
    records[3]["label"]["steps"][0]["completions"][0]["text"] = text
    return jsonl(records)


PRM800K_FIELD = "label.steps[0].completions[0].text"
PRM800K_SURROGATE = (
    prm800k_with_step_text(f"bad {SURROGATE} step"),
    f"input.jsonl:4: {PRM800K_FIELD}: {SURROGATE_ERROR}",
)
PRM800K_NUL = (
    prm800k_with_step_text(f"bad {NUL} step"),
    f"input.jsonl:4: {PRM800K_FIELD}: {NUL_ERROR}",
)


def jq_style_prm800k() -> bytes:
    """The samples as `jq -c` writes them: compact separators and raw UTF-8 ("≥" in a step),
    which the platform's own writer (`json.dumps` defaults) would not reproduce."""
    records = sample_records()
    records[0]["label"]["steps"][0]["completions"][0]["text"] += " so x ≥ 2, café"
    return "".join(
        json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records
    ).encode("utf-8")


def million_step_pool() -> bytes:
    """One candidate solution of 1,000,000 steps (5 MB): issue 13 saw it accepted and served."""
    steps = ", ".join(['"x"'] * 1_000_000)
    return f'{{"problem": "1+1?", "steps": [{steps}]}}\n'.encode("ascii")


def million_step_prm800k() -> bytes:
    """One PRM800K record of 1,000,000 steps (76 MB); issue 13: it crashed after 87 s at
    1.4 GB on a smallint overflow."""
    record = sample_records()[3]
    step = '{"completions": null, "human_completion": null, "chosen_completion": null}'
    head = json.dumps({**record, "label": {**record["label"], "steps": []}})
    before, after = head.split('"steps": []', 1)
    return (before + '"steps": [' + ", ".join([step] * 1_000_000) + "]" + after + "\n").encode()
