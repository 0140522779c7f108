"""The training stage (`active_learning/loop/stages/train.py`): options, progress, the run log."""

import pytest

from active_learning.loop import in_process, runs, triggers
from active_learning.loop.stages import train
from active_learning.models import RunStage
from tests.active_learning.conftest import loop_project

pytestmark = pytest.mark.django_db


def test_training_options_in_the_loop_settings_reach_the_trainer(
    tiny_backbone, loop_models_dir, monkeypatch
):
    """Every training option of the loop settings (and a trigger's `train` overrides) ends up
    in the TrainConfig the run trains with; `auto` resolves on the worker (head on this CPU
    machine). Before, packing, accumulation, LoRA rank, precision... could not be set."""
    from active_learning.prm import training

    project, _pool = loop_project(
        tiny_backbone,
        training_mode="auto",
        learning_rate=5e-4,
        train_batch_size=4,
        train_token_budget=900,
        grad_accumulation=3,
        max_length=300,
        lora_rank=8,
        gradient_checkpointing=True,
        packing=False,
        precision="fp32",
        attn_implementation="eager",
    )
    seen = []
    real_train = training.train

    def spy(model, step_tokenizer, train_examples, val_examples, config, progress=None):
        seen.append(config)
        return real_train(model, step_tokenizer, train_examples, val_examples, config, progress)

    monkeypatch.setattr(training, "train", spy)
    run = in_process.run_round(project, train={"lora_rank": 4, "patience": 3})
    config = seen[0]
    assert config.mode == "head" and "training mode auto: head" in run.log
    assert (config.learning_rate, config.batch_size, config.grad_accumulation) == (5e-4, 4, 3)
    assert (config.max_length, config.lora_rank, config.patience) == (300, 4, 3)
    assert config.gradient_checkpointing and not config.packing and config.token_budget == 900
    assert (config.precision, config.attn_implementation) == ("fp32", "eager")
    assert run.params["train"]["lora_rank"] == 4


def test_training_progress_moves_per_step_and_says_what_it_is(tiny_backbone, monkeypatch):
    """The bar used to sit at 0% through training and the percentage did not say what it was
    of: now every training report moves it and names the epoch ("training epoch 2/3")."""
    from active_learning.models import RunTrigger
    from active_learning.prm.training import Progress

    project, _pool = loop_project(tiny_backbone)
    run = triggers.run_create(project=project, trigger=RunTrigger.LEAD, in_process=True)
    runs.run_begin(run.pk)
    run = runs.stage_enter(run.pk, RunStage.TRAIN, "training a new PRM version")
    monkeypatch.setattr(runs, "PROGRESS_EVERY_SECONDS", 0)
    report = train._train_progress(runs.StageProgress(run, RunStage.TRAIN), "full")
    report(Progress(step=40, total_steps=120, loss=0.5, eta_seconds=10, epoch=1.2, epochs=3))
    run.refresh_from_db()
    assert run.progress_note == "training epoch 2/3 · step 40/120"
    low, high = runs.STAGE_SPAN[RunStage.TRAIN]
    assert run.percent == pytest.approx(low + (high - low) / 3, abs=0.1)
    head = train._train_progress(runs.StageProgress(run, RunStage.TRAIN), "head")
    head(Progress(step=3, total_steps=10, loss=0.0, eta_seconds=None, epoch=0, phase="features"))
    run.refresh_from_db()
    assert run.progress_note == "training: backbone features, batch 3/10"


def test_the_run_log_names_labelings_and_examples_as_the_generations_page_does(
    tiny_backbone, loop_models_dir
):
    """A tester read "trained model version 1 on 21 labelings" in the run log while the
    generations page said 16: the log printed the example count (a labeling gives one example
    per rated path) and called it labelings. Here one labeling rates an alternative, so the two
    counts differ and the old log line names the wrong one."""
    from tests.active_learning.conftest import label_steps
    from tests.factories import LabelingFactory, SolutionFactory

    project, _pool = loop_project(tiny_backbone)
    solution = SolutionFactory(problem__project=project, steps=["a", "b"])
    steps = label_steps(["a", "b"], [2, 2])
    steps[0]["completions"].append({"text": "a wrong turn", "rating": -1, "flagged": False})
    LabelingFactory(solution=solution, finish_reason="solution", steps=steps)
    run = in_process.run_round(project)
    snapshot = run.model_version.data_snapshot
    assert snapshot["examples"] > snapshot["labelings"]
    assert (
        f"on {snapshot['labelings']} labelings ({snapshot['examples']} examples, held-out ones "
        "included)" in run.log
    )
    assert f"on {snapshot['examples']} labelings" not in run.log
