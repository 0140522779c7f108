"""The PRM core on CPU with a tiny randomly initialised model."""

import subprocess
import sys

import pytest
import torch
from sklearn.metrics import roc_auc_score

from active_learning.prm import data, evaluation
from active_learning.prm.batching import flattening_collator, make_collator
from active_learning.prm.data import NEGATIVE, POSITIVE, Example
from active_learning.prm.model import load_checkpoint, save_checkpoint, tiny_model
from active_learning.prm.scoring import aggregate, score
from active_learning.prm.tokenization import IGNORE, StepTokenizer
from active_learning.prm.training import TrainConfig, train
from tests.active_learning.prm.conftest import synthetic_examples
from tests.conftest import ROOT


def test_the_prm_package_never_imports_django():
    code = (
        "import sys\n"
        "import active_learning.prm.data, active_learning.prm.model, active_learning.prm.training\n"
        "import active_learning.prm.scoring, active_learning.prm.evaluation\n"
        "import active_learning.prm.tokenization\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_labels_land_on_each_steps_last_token(tokenizer):
    step_tokenizer = StepTokenizer(tokenizer, max_length=512)
    example = Example(
        "What is 2+2?", ["Two plus two.", "Is four.", "Done."], [POSITIVE, None, NEGATIVE]
    )
    encoded = step_tokenizer.encode(example)
    assert encoded.kept_steps == 3 and not encoded.truncated
    labeled = [i for i, label in enumerate(encoded.labels) if label != IGNORE]
    assert labeled == [encoded.step_ends[0], encoded.step_ends[2]]
    assert [encoded.labels[i] for i in labeled] == [POSITIVE, NEGATIVE]
    for end, text in zip(encoded.step_ends, example.steps, strict=True):
        before = tokenizer.decode(encoded.input_ids[: end + 1])
        assert before.endswith(text + "\n\n")
    assert all(
        encoded.input_ids[end] == step_tokenizer.separator_ids[-1] for end in encoded.step_ends
    )


def test_truncation_drops_whole_trailing_steps(tokenizer):
    step_tokenizer = StepTokenizer(tokenizer, max_length=60)
    example = Example("Q", ["a" * 10, "b" * 10, "c" * 30], [POSITIVE, POSITIVE, NEGATIVE])
    encoded = step_tokenizer.encode(example)
    assert encoded.truncated and encoded.kept_steps == 2
    assert len(encoded.input_ids) <= 60
    assert tokenizer.decode(encoded.input_ids).endswith("b" * 10 + "\n\n")


def test_a_tiny_model_learns_to_spot_wrong_steps(tokenizer):
    torch.set_num_threads(2)
    model = tiny_model(tokenizer, hidden_size=64, layers=2)
    step_tokenizer = StepTokenizer(tokenizer, max_length=256)
    train_set, val_set = synthetic_examples(300, seed=1), synthetic_examples(60, seed=2)
    test_set = synthetic_examples(100, seed=3)
    seen = []
    model, report = train(
        model,
        step_tokenizer,
        train_set,
        val_set,
        TrainConfig(mode="full", epochs=4, learning_rate=3e-3, batch_size=16, seed=0),
        progress=seen.append,
    )
    assert seen and seen[-1].step == report.steps and seen[-1].eta_seconds is not None
    assert report.best_val_loss is not None
    good, scores = [], []
    for example, scored in zip(test_set, score(model, step_tokenizer, test_set), strict=True):
        for label, value in zip(example.labels, scored.step_scores, strict=True):
            good.append(label != NEGATIVE)
            scores.append(value)
    assert evaluation.roc_auc(good, scores) > 0.9


# float(loss) on a tensor that requires grad warned on every step in head mode
@pytest.mark.filterwarnings("error:Converting a tensor with requires_grad=True:UserWarning")
def test_head_mode_trains_only_the_head(tokenizer):
    model = tiny_model(tokenizer)
    frozen = {k: v.clone() for k, v in model.named_parameters() if not k.startswith("score")}
    step_tokenizer = StepTokenizer(tokenizer, max_length=256)
    model, report = train(
        model,
        step_tokenizer,
        synthetic_examples(80, 1),
        synthetic_examples(20, 2),
        TrainConfig(mode="head", epochs=3, batch_size=16),
    )
    assert report.steps > 0
    for name, parameter in model.named_parameters():
        if name in frozen:
            assert torch.equal(parameter, frozen[name]), name


def test_lora_mode_returns_a_plain_model(tokenizer):
    model = tiny_model(tokenizer)
    step_tokenizer = StepTokenizer(tokenizer, max_length=256)
    model, _ = train(
        model,
        step_tokenizer,
        synthetic_examples(40, 1),
        synthetic_examples(10, 2),
        TrainConfig(mode="lora", epochs=1, batch_size=8, lora_rank=4, learning_rate=1e-3),
    )
    assert type(model).__name__ == "LlamaForTokenClassification"
    assert list(score(model, step_tokenizer, synthetic_examples(2, 5)))


def test_packed_and_padded_batches_give_the_same_loss(tokenizer):
    """Padding-free packing (DataCollatorWithFlattening: one row, position ids restarting per
    example) must give the loss of the same examples right-padded; it would not if the
    attention let one example see its neighbour."""
    model = tiny_model(tokenizer).eval()
    step_tokenizer = StepTokenizer(tokenizer, max_length=400)
    encoded = [step_tokenizer.encode(e) for e in synthetic_examples(6, seed=4)]
    rows = [{"input_ids": e.input_ids, "labels": e.labels} for e in encoded]
    padded_collator, fallback = make_collator(model, step_tokenizer.pad_id, packing=False)
    assert fallback == "length-grouped"
    packed, padded = flattening_collator(model)(rows), padded_collator(rows)
    assert packed["input_ids"].shape[0] == 1 and "attention_mask" not in packed
    assert packed["input_ids"].shape[1] == sum(len(e.input_ids) for e in encoded)
    with torch.inference_mode():
        # use_cache=False as in training: with a KV cache transformers does not look for packed
        # sequences in the position ids (and the examples would see each other)
        packed_loss = model(**packed, use_cache=False).loss
        padded_loss = model(**padded, use_cache=False).loss
    assert torch.allclose(packed_loss, padded_loss, atol=1e-5), (packed_loss, padded_loss)
    # training flattens only where a varlen kernel makes it pay (not with SDPA's dense mask)
    assert make_collator(model, 0, packing=True)[1] == "length-grouped"
    model.config._attn_implementation = "flash_attention_2"
    assert make_collator(model, 0, packing=True)[1] == "flattened"


def test_a_checkpoint_loads_back_to_identical_scores(tokenizer, tmp_path):
    model = tiny_model(tokenizer, seed=3)
    step_tokenizer = StepTokenizer(tokenizer, max_length=256)
    examples = synthetic_examples(12, seed=9)
    before = [s.step_scores for s in score(model, step_tokenizer, examples)]
    save_checkpoint(model, tokenizer, tmp_path / "ckpt", {"backbone": "tiny", "fingerprint": "x"})
    loaded, loaded_tokenizer, metadata = load_checkpoint(tmp_path / "ckpt")
    after = [s.step_scores for s in score(loaded, StepTokenizer(loaded_tokenizer, 256), examples)]
    assert after == before
    assert metadata["backbone"] == "tiny"


def test_aggregation_product_and_min():
    assert aggregate([0.5, 0.8, 1.0], "product") == pytest.approx(0.4)
    assert aggregate([0.5, 0.8, 1.0], "min") == 0.5
    assert aggregate([], "product") is None
    with pytest.raises(ValueError):
        aggregate([0.5], "mean")


def test_roc_auc_matches_scikit_learn():
    import random

    rng = random.Random(0)
    good = [rng.random() < 0.6 for _ in range(300)]
    scores = [round(rng.random() + 0.3 * g, 2) for g in good]  # with ties
    assert evaluation.roc_auc(good, scores) == pytest.approx(roc_auc_score(good, scores), abs=1e-12)
    assert evaluation.roc_auc([True, True], [0.1, 0.2]) is None


def test_first_error_f1_by_hand():
    labels = [1, 0, -1, -1]  # two flawed (first error at 1 and 0), two correct
    scores = [[0.9, 0.2, 0.9], [0.4, 0.9], [0.9, 0.9], [0.9, 0.3]]
    result = evaluation.first_error_f1(labels, scores, threshold=0.5)
    # flawed: predicted 1 (right), 0 (right) -> 1.0; correct: -1 (right), 1 (wrong) -> 0.5
    assert (result.error_accuracy, result.correct_accuracy) == (1.0, 0.5)
    assert result.f1 == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert evaluation.choose_threshold(labels, scores) < 0.9


def test_best_of_n_against_majority():
    candidates = [
        ("p1", "3", False, 0.2),
        ("p1", "3", False, 0.3),
        ("p1", "4", True, 0.9),
        ("p2", "7", True, 0.1),
        ("p2", "7", True, 0.2),
        ("p2", "8", False, 0.8),
        ("p3", "1", True, 0.5),  # one candidate: not counted
    ]
    result = evaluation.best_of_n(candidates)
    assert result.problems == 2
    assert result.prm_accuracy == 0.5 and result.majority_accuracy == 0.5


def test_a_quality_control_solution_counts_once():
    steps = [
        {
            "completions": [{"text": "x", "rating": 1}],
            "human_completion": None,
            "chosen_completion": 0,
        }
    ]
    labelings = [
        {
            "problem": "p",
            "steps": steps,
            "finish_reason": "solution",
            "solution_id": 1,
            "is_quality_control": True,
        },
        {
            "problem": "p",
            "steps": steps,
            "finish_reason": "solution",
            "solution_id": 1,
            "is_quality_control": True,
        },
        {
            "problem": "p",
            "steps": steps,
            "finish_reason": "solution",
            "solution_id": 1,
            "is_quality_control": False,
        },
    ]
    assert len(data.from_labelings(labelings)) == 2


def test_shared_real_data_readers():
    from tests.conftest import SHARED_DATA

    bench = data.from_processbench(data.read_processbench(SHARED_DATA / "processbench_math.json"))
    assert len(bench) == 1000
    flawed = next(e for e in bench if e.meta["label"] >= 0)
    assert flawed.labels[-1] == NEGATIVE and len(flawed.steps) == flawed.meta["label"] + 1
    rows = list(
        data.read_phase1_parquet(SHARED_DATA / "prm800k_phase1_test_stepwise.parquet", limit=200)
    )
    phase1 = list(data.from_phase1_stepwise(rows))
    assert phase1 and all(e.labels[-1] is not None for e in phase1)
