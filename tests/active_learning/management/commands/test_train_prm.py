"""`train_prm` under torchrun: several processes train, one model version is published."""

import json
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from active_learning.models import ModelVersion
from tests.active_learning.test_loop_worker import scenario
from tests.conftest import ROOT
from tests.factories import ProjectFactory


def test_a_two_process_run_publishes_exactly_one_model_version(cli_database, tmp_path):
    """torchrun, 2 processes, gloo on CPU, `manage.py train_prm` in each: both train (DDP), and
    exactly one version is created, published and current, with one checkpoint folder that
    records the world size. Would catch rank 1 creating its own version or writing a
    checkpoint (each process ran model_train before), or a run that does not train in DDP."""
    models = tmp_path / "models"
    env = {
        **cli_database,
        "PRM_MODELS_DIR": str(models),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(ROOT),
    }
    project = scenario(env, "setup", backbone=str(tmp_path / "backbone"), labeled=40)
    result = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "torchrun"),
            "--standalone",
            "--nproc_per_node",
            "2",
            "manage.py",
            "train_prm",
            "--project",
            project["name"],
            "--backbone",
            str(tmp_path / "backbone"),
            "--mode",
            "full",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--max-length",
            "256",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    state = scenario(env, "state", project=project["project"])
    assert len(state["versions"]) == 1, state["versions"]
    ((version, status),) = state["versions"]
    assert status == "ready" and state["current_model"] == version
    folders = sorted(p.name for p in (models / f"project-{project['project']}").iterdir())
    assert folders == [f"v{version}"]  # no second checkpoint, no leftover .partial
    metadata = json.loads(
        (models / f"project-{project['project']}" / f"v{version}" / "prm_metadata.json").read_text()
    )
    assert metadata["metrics"]["train"]["world_size"] == 2
    assert result.stdout.count("is ready and current") == 1  # rank 0 alone reports it


@pytest.mark.django_db
def test_head_mode_under_torchrun_is_refused(monkeypatch):
    """head mode has nothing to spread over processes; each process would publish a version."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    project = ProjectFactory()
    with pytest.raises(CommandError, match="head mode trains on one process"):
        call_command("train_prm", "--project", project.name, "--mode", "head")
    assert not ModelVersion.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--learning-rate", "0"], "learning_rate"),
        (["--learning-rate", "-1"], "learning_rate"),
        (["--learning-rate", "nan"], "learning_rate"),
        (["--patience", "-1"], "patience"),
        (["--lora-alpha", "0"], "lora_alpha"),
        (["--keep-layers", "0"], "--keep-layers"),
        (["--token-budget", "0"], "token_budget"),
        (["--token-budget", "512", "--max-length", "1024"], "token_budget"),
    ],
)
def test_hostile_options_are_named_before_anything_is_read_or_written(argv, named):
    """Would catch options that passed the command's checks and went on to read the labels and
    train (a rate of 0 silently became the mode's default; a negative rate, NaN, a patience of
    -1 or 0 layers reached the trainer): the error must name the option, and nothing is made."""
    project = ProjectFactory()
    with pytest.raises(CommandError, match=named):
        call_command("train_prm", "--project", project.name, "--mode", "head", *argv)
    assert not ModelVersion.objects.exists()
