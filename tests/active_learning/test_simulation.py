"""The active-learning simulation: simulated annotators label through the API from ProcessBench
labels, each round's PRM is evaluated on held-out problems, and the report files are written.
A tiny local backbone keeps it fast (no network)."""

import json
import random
from dataclasses import asdict
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from active_learning import services, simulation
from active_learning.models import ModelVersion, Run
from active_learning.prm.model import tiny_model
from labeling import api
from labeling.models import Generation, Labeling, LabelingStatus, Problem, Project, StepRating
from tests.active_learning.prm.conftest import byte_tokenizer

pytestmark = pytest.mark.django_db


@pytest.fixture
def backbone(tmp_path) -> str:
    tokenizer = byte_tokenizer()
    folder = tmp_path / "tiny-backbone"
    tiny_model(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(autouse=True)
def models_dir(settings, tmp_path):
    settings.MODELS_DIR = tmp_path / "models"
    services._loaded.clear()


def processbench_records(problems: int, seed: int = 0) -> list[dict]:
    """ProcessBench-shaped records: a wrong step says 'oops'; `label` is its index, or -1."""
    rng = random.Random(seed)
    records = []
    for p in range(problems):
        for s in range(rng.randint(1, 2)):
            steps, label = [], -1
            for i in range(rng.randint(2, 4)):
                a, b = rng.randint(1, 9), rng.randint(1, 9)
                if label == -1 and rng.random() < 0.35:
                    steps.append(f"oops {a}+{b}={a + b + 1}")
                    label = i
                else:
                    steps.append(f"so {a}+{b}={a + b}")
            steps.append(f"The answer is \\boxed{{{p + s}}}.")
            records.append(
                {
                    "id": f"t-{p}-{s}",
                    "generator": "test",
                    "problem": f"Problem {p}: add the numbers.",
                    "steps": steps,
                    "final_answer_correct": label == -1,
                    "label": label,
                }
            )
    return records


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "processbench_test.json"
    path.write_text(json.dumps(processbench_records(24)))
    return path


def test_the_oracle_maps_processbench_labels():
    good = {"rating": 1, "flagged": False}
    bad = {"rating": -1, "flagged": False}
    assert simulation.oracle_answer(-1, 3) == ([good, good, good], "solution")
    assert simulation.oracle_answer(0, 3) == ([bad], "found_error")
    assert simulation.oracle_answer(2, 4) == ([good, good, bad], "found_error")
    for label in (3, -2, True, "1", None):
        with pytest.raises(ValueError):
            simulation.oracle_answer(label, 3)
    oracle = simulation.Oracle([{"problem": " P ", "steps": ["a", "b"], "label": 1}])
    assert oracle.answer("P", ["a", "b"]) == ([good, bad], "found_error")
    with pytest.raises(simulation.SimulationError):
        oracle.answer("P", ["a", "c"])


def test_the_split_keeps_held_out_problems_out_of_the_pool():
    records = processbench_records(60, seed=3)
    for r in records:
        r["file"] = "x.json"
    pool, held_out = simulation.split(records, 0.3, seed=1)
    assert held_out and pool
    assert not {r["problem"] for r in pool} & {r["problem"] for r in held_out}
    assert len(pool) + len(held_out) == len(records)
    assert simulation.split(records, 0.3, seed=1) == (pool, held_out)  # deterministic
    assert simulation.split(records, 0.3, seed=2)[1] != held_out  # the seed moves it
    small, same_held_out = simulation.split(records, 0.3, seed=1, pool_size=5)
    assert len(small) == 5 and same_held_out == held_out


def test_labels_to_reach_and_efficiency_on_hand_made_curves():
    uniform = [(10, 0.5, 0, 1), (20, 0.6, 0, 1), (30, 0.7, 0, 1)]
    active = [(10, 0.5, 0, 1), (20, 0.7, 0, 1)]
    assert simulation.labels_to_reach(uniform, 0.65) == pytest.approx(25)
    assert simulation.labels_to_reach(uniform, 0.4) == 10
    assert simulation.labels_to_reach(uniform, 0.8) is None
    eff = simulation.efficiency(active, uniform)
    assert eff["ratio"] == pytest.approx(30 / 20)
    assert eff["converse_ratio"] == pytest.approx(30 / 20)
    worse = simulation.efficiency([(10, 0.5, 0, 1), (30, 0.55, 0, 1)], uniform)
    assert worse["ratio"] == pytest.approx(15 / 30)
    assert worse["active_labels_for_baseline_final"] is None


def test_paired_gap_and_command_line():
    rows = [
        {"seed": seed, "strategy": strategy, "round": n, "auc": value}
        for seed, strategy, n, value in [
            (0, "convincing_wrong", 1, 0.5),
            (0, "uniform", 1, 0.9),  # round 1 is left out
            (0, "convincing_wrong", 2, 0.7),
            (0, "uniform", 2, 0.6),
            (0, "convincing_wrong", 3, 0.7),
            (0, "uniform", 3, 0.8),
            (1, "convincing_wrong", 2, 0.6),
            (1, "uniform", 2, 0.5),
        ]
    ]
    gap = simulation.paired_gap(rows, "auc")
    assert gap["per_seed"] == pytest.approx([0.0, 0.1])
    assert (gap["seeds"], gap["ahead"]) == (2, 1)
    assert gap["mean"] == pytest.approx(0.05)
    config = asdict(simulation.SimulationConfig(rounds=3, batch=7, seeds=(1, 2), epochs=5))
    assert simulation.command_line(config) == (
        "python manage.py simulate_active_learning --strategy both --rounds 3 --batch 7 "
        "--seed 1 2 --epochs 5"
    )


def test_write_markdown_replaces_only_the_results_block(tmp_path):
    path = tmp_path / "page.md"
    path.write_text(
        "# Title\n\nintro\n\n<!-- simulation:begin -->\nold\n<!-- simulation:end -->\n\nreading\n"
    )
    block = "\n".join([simulation.MARKERS[0], "new", simulation.MARKERS[1]])
    simulation.write_markdown(path, block)
    text = path.read_text()
    assert "old" not in text and "new" in text
    assert text.startswith("# Title\n\nintro\n") and text.endswith("\nreading\n")


def test_simulation_labels_through_the_api_and_writes_the_report(
    backbone, data_file, tmp_path, monkeypatch
):
    calls = {"next": 0, "draft": 0, "submit": 0}
    for name, view in (
        ("next", api.AssignmentNextApi),
        ("draft", api.AssignmentDraftApi),
        ("submit", api.AssignmentSubmitApi),
    ):
        method = "put" if name == "draft" else "post"
        original = getattr(view, method)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(view, method, counted)

    out = tmp_path / "docs" / "sim"
    image = tmp_path / "docs" / "img" / "sim.png"
    call_command(
        "simulate_active_learning",
        "--strategy=both",
        "--rounds=2",
        "--batch=4",
        "--seed",
        "7",
        f"--data={data_file}",
        f"--backbone={backbone}",
        "--keep-layers=1",
        "--epochs=2",
        "--annotators=2",
        f"--work-dir={tmp_path / 'work'}",
        "--label=t",
        f"--output={out}",
        f"--plot={image}",
    )
    records = {r["id"]: r for r in json.loads(data_file.read_text())}
    held_out = json.loads((tmp_path / "work" / "held-out-t-s7.json").read_text())
    held_out_problems = {r["problem"] for r in held_out}
    assert held_out_problems

    projects = {p.name: p for p in Project.objects.filter(name__startswith="sim-t-")}
    assert set(projects) == {"sim-t-convincing_wrong-s7", "sim-t-uniform-s7"}
    first_batches = []
    for strategy in simulation.STRATEGIES:
        project = projects[f"sim-t-{strategy}-s7"]
        # held-out problems never enter the pool
        pool_problems = set(Problem.objects.filter(project=project).values_list("text", flat=True))
        assert pool_problems and not pool_problems & held_out_problems
        # a cold-start uniform batch, then one generation per round chosen by the strategy
        # with that round's model, through the pipeline's in-process run
        generations = list(Generation.objects.filter(project=project).order_by("number"))
        assert [(g.number, g.strategy) for g in generations] == [
            (0, "uniform"),
            (1, strategy),
            (2, strategy),
        ]
        assert generations[0].params["cold_start"] is True
        versions = list(ModelVersion.objects.filter(project=project).order_by("id"))
        assert len(versions) == 2 and all(v.status == "ready" for v in versions)
        assert [g.params["model_version"] for g in generations[1:]] == [v.pk for v in versions]
        assert [g.items.count() for g in generations] == [4, 4, 4]
        runs = Run.objects.filter(project=project).order_by("id")
        assert [(r.trigger, r.status, r.generation_id) for r in runs] == [
            ("simulation", "succeeded", generations[1].pk),
            ("simulation", "succeeded", generations[2].pk),
        ]
        # only the last model keeps its checkpoint folder
        assert not Path(versions[0].checkpoint).exists() and Path(versions[1].checkpoint).exists()
        # the last generation is published but not labeled
        assert not Labeling.objects.filter(generation=generations[2]).exists()
        first_batches.append(
            sorted(generations[0].items.values_list("solution__external_id", flat=True))
        )
        # every label was submitted by a simulated annotator, and matches the oracle
        labelings = Labeling.objects.filter(project=project).select_related("solution", "labeler")
        assert labelings.count() == 8
        for labeling in labelings:
            assert labeling.status == LabelingStatus.SUBMITTED
            assert labeling.labeler.username.startswith(f"sim{project.pk}-annotator")
            assert labeling.generation_id in {g.pk for g in generations}
            record = records[labeling.solution.external_id.split(":", 1)[1]]
            ratings = list(
                StepRating.objects.filter(labeling=labeling)
                .order_by("step_index")
                .values_list("rating", flat=True)
            )
            label = record["label"]
            if label == -1:
                assert labeling.finish_reason == "solution"
                assert ratings == [1] * len(record["steps"])
            else:
                assert labeling.finish_reason == "found_error"
                assert ratings == [1] * label + [-1]
        assert {u for u in labelings.values_list("labeler__username", flat=True)} == {
            f"sim{project.pk}-annotator1",
            f"sim{project.pk}-annotator2",
        }
    assert first_batches[0] == first_batches[1]  # the cold start is the same for both
    # through the API: one draft and one submit per labeling, and a 204 per annotator per round
    assert calls["submit"] == calls["draft"] == 16
    assert calls["next"] == 16 + 2 * 2 * 2

    results = json.loads(out.with_name("sim.json").read_text())
    assert len(results["rows"]) == 4
    assert [r["labels"] for r in results["rows"]] == [4, 8, 4, 8]
    markdown = out.with_name("sim.md").read_text()
    assert simulation.MARKERS[0] in markdown and "| 2 | 8 |" in markdown
    assert "img/sim.png" in markdown
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((tmp_path / "work").glob("features-*.pt"))  # the feature cache was used
    assert "Paired difference" in markdown

    # the report again from the results file alone, without simulating
    again = tmp_path / "again" / "page"
    call_command(
        "simulate_active_learning",
        f"--report-only={out.with_name('sim.json')}",
        f"--output={again}",
        f"--plot={tmp_path / 'again' / 'plot.png'}",
    )
    assert again.with_name("page.md").read_text().count("| 2 | 8 |") == 1
    assert (tmp_path / "again" / "plot.png").exists()
    assert Project.objects.filter(name__startswith="sim-").count() == 2  # nothing new ran
    with pytest.raises(CommandError, match="not a simulation results file"):
        call_command("simulate_active_learning", f"--report-only={data_file}")


def test_bad_data_is_refused_naming_the_record_and_creates_nothing(tmp_path, backbone):
    records = processbench_records(4)
    records[2]["label"] = len(records[2]["steps"])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(records))
    with pytest.raises(CommandError, match=r"bad\.json: record 2: label"):
        call_command(
            "simulate_active_learning",
            f"--data={path}",
            f"--backbone={backbone}",
            f"--work-dir={tmp_path}",
            f"--output={tmp_path / 'out'}",
        )
    assert not Project.objects.exists()
    with pytest.raises(CommandError, match="--rounds"):
        call_command("simulate_active_learning", "--rounds=0", f"--data={path}")
