"""The README's (and docs/active-learning.md's) numbers about the demo, checked against the demo
data and the code that decides them. Issue 14: the README said "Label 5 solutions" (the trigger
counts only regular labels, so the run came at the 7th), "226 candidates" (the page said 232)
and named two worker groups where the demo starts three."""

import json
import re

from active_learning.management.commands.setup_demo_loop import DEMO_LOOP
from config.celery import WORKER_QUEUES
from labeling.management.commands.load_demo import DEMO_SETTINGS
from tests.conftest import ROOT

DATA = ROOT / "demo" / "data"
README = (ROOT / "README.md").read_text(encoding="utf-8")
LOOP_DOC = (ROOT / "docs" / "active-learning.md").read_text(encoding="utf-8")


def _demo_counts() -> dict:
    solutions = json.loads((DATA / "processbench_math.json").read_text(encoding="utf-8"))
    chosen = json.loads((DATA / "quality_control.json").read_text(encoding="utf-8"))
    problems = (DATA / "math_test_problems.jsonl").read_text(encoding="utf-8").splitlines()
    return {
        "solutions": len(solutions),
        "problems": len([line for line in problems if line.strip()]),
        "screening": len(chosen["screening"]),
        "gold": len(chosen["gold"]),
        # candidate_ids at a fresh start: every solution but the screening and gold questions
        "candidates": len(solutions) - len(chosen["screening"]) - len(chosen["gold"]),
    }


def test_the_demo_data_numbers_match_the_data():
    """Would catch a README count of solutions, problems, screening or gold questions, or of
    candidates (warm-up, waiting message), that the demo data no longer gives."""
    n = _demo_counts()
    assert f"{n['solutions']} ProcessBench solutions" in README
    assert f"{n['problems']} MATH test\n  problems" in README
    assert f"a screening set of {n['screening']} and {n['gold']} gold questions" in README
    # the demo's own candidates (docs/active-learning.md also speaks of other pools)
    for text, candidates in ((README, r"(\d+) candidates\b"), (LOOP_DOC, r"its (\d+) candidates")):
        found = re.findall(candidates, text) + re.findall(r"of (\d+) solutions\)", text)
        assert found and set(found) == {str(n["candidates"])}, found


def test_the_first_turn_counts_regular_labels_as_the_trigger_does():
    """Would catch the README promising a retrain after N labels of any kind: the trigger
    (loop.candidates.submitted_labelings) leaves out screening and quality-control labelings,
    so the run starts at retrain_every + the screening questions."""
    every = DEMO_LOOP["retrain_every"]
    screening = _demo_counts()["screening"]
    assert f"label until {every} *regular* solutions" in README
    assert f"(your first {screening} tasks)" in README
    assert f"your {every + screening}th submitted" in README
    qc_every = round(1 / DEMO_SETTINGS["qc_rate"])
    assert f"about 1 task in {qc_every}" in README
    assert f"submit {every} regular labels" in README


def test_every_worker_queue_of_the_demo_is_named():
    """Would catch the README naming fewer worker groups than rundemo starts (one per
    WORKER_QUEUES entry)."""
    demo = README.split("## The demo")[1].split("It loads:")[0]
    for queue in WORKER_QUEUES:
        assert f"`{queue}`:" in demo, queue
