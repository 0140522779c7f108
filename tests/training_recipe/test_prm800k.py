"""The PRM800K training recipe shared by labeling's export and the PRM library."""

import subprocess
import sys

from tests.conftest import ROOT
from training_recipe.prm800k import NEGATIVE, NEUTRAL, NeutralAs, from_label_steps


def test_the_recipe_imports_no_django_and_no_torch():
    """labeling/exports.py imports it in the web process, and active_learning/prm in workers:
    it must pull neither Django nor torch (nor either app)."""
    code = (
        "import sys\n"
        "import training_recipe.prm800k\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "    ('django', 'torch', 'labeling', 'active_learning', 'config'))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_examples_from_label_steps_follow_the_recipe(sample_records):
    record = sample_records[3]  # phase 2, found_error at step 6
    example = from_label_steps(
        record["question"]["problem"], record["label"]["steps"], "found_error"
    )
    assert len(example.steps) == 7 and example.labels[-1] == NEGATIVE
    assert from_label_steps("p", record["label"]["steps"], "give_up") is None
    neutral = from_label_steps(
        "p",
        [
            {
                "completions": [{"text": "x", "rating": 0}],
                "human_completion": None,
                "chosen_completion": 0,
            }
        ],
        "solution",
        NeutralAs.OWN_CLASS,
    )
    assert neutral.labels == [NEUTRAL]
    phase1 = sample_records[0]  # the labeler replaced step 1 with their own
    example = from_label_steps("p", phase1["label"]["steps"], "solution")
    assert example.labels[1] == NEGATIVE and len(example.steps) == 2
