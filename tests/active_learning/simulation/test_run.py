"""The active-learning simulation end to end (`active_learning/simulation/run.py`): simulated
annotators label through the API from ProcessBench labels, each round's PRM is evaluated on
held-out problems, and the report files are written. A tiny local backbone keeps it fast (no
network)."""

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from active_learning.models import ModelVersion, Run
from active_learning.simulation.config import MARKERS, STRATEGIES
from labeling import api
from labeling.models import Generation, Labeling, LabelingStatus, Problem, Project, StepRating
from tests.active_learning.simulation.conftest import processbench_records

pytestmark = pytest.mark.django_db


def test_simulation_labels_through_the_api_and_writes_the_report(
    tiny_backbone, data_file, tmp_path, monkeypatch
):
    calls = {"next": 0, "draft": 0, "submit": 0}
    for name, view in (
        ("next", api.AssignmentNextApi),
        ("draft", api.AssignmentDraftApi),
        ("submit", api.AssignmentSubmitApi),
    ):
        # counted at dispatch: the hot views answer most requests on their fast path
        # (labeling/api_fast.py), which never reaches the DRF handler methods
        method = "PUT" if name == "draft" else "POST"
        original = view.dispatch

        def counted(self, request, *args, _original=original, _name=name, _method=method, **kw):
            if request.method == _method:
                calls[_name] += 1
            return _original(self, request, *args, **kw)

        monkeypatch.setattr(view, "dispatch", counted)

    out = tmp_path / "docs" / "sim"
    image = tmp_path / "docs" / "img" / "sim.png"
    call_command(
        "simulate_active_learning",
        "--smoke",
        "--strategy=both",
        "--rounds=2",
        "--batch=4",
        "--seed",
        "7",
        f"--data={data_file}",
        f"--backbone={tiny_backbone}",
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
    for strategy in STRATEGIES:
        project = projects[f"sim-t-{strategy}-s7"]
        # held-out problems never enter the pool
        pool_problems = set(Problem.objects.filter(project=project).values_list("text", flat=True))
        assert pool_problems and not pool_problems & held_out_problems
        # a cold-start uniform batch, then one generation per round chosen by the strategy
        # with that round's model, through the loop's in-process run
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
    assert MARKERS[0] in markdown and "| 2 | 8 |" in markdown
    assert "img/sim.png" in markdown
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((tmp_path / "work").glob("features-*.pt"))  # the feature cache was used
    assert "Paired difference" in markdown

    # the report again from the results file alone, without simulating
    again = tmp_path / "again" / "page"
    call_command(
        "simulate_active_learning",
        "--smoke",
        f"--report-only={out.with_name('sim.json')}",
        f"--output={again}",
        f"--plot={tmp_path / 'again' / 'plot.png'}",
    )
    assert again.with_name("page.md").read_text().count("| 2 | 8 |") == 1
    assert (tmp_path / "again" / "plot.png").exists()
    assert Project.objects.filter(name__startswith="sim-").count() == 2  # nothing new ran
    with pytest.raises(CommandError, match="not a simulation results file"):
        call_command("simulate_active_learning", "--smoke", f"--report-only={data_file}")


def test_bad_data_is_refused_naming_the_record_and_creates_nothing(tmp_path, tiny_backbone):
    records = processbench_records(4)
    records[2]["label"] = len(records[2]["steps"])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(records))
    with pytest.raises(CommandError, match=r"bad\.json: record 2: label"):
        call_command(
            "simulate_active_learning",
            "--smoke",
            f"--data={path}",
            f"--backbone={tiny_backbone}",
            f"--work-dir={tmp_path}",
            f"--output={tmp_path / 'out'}",
        )
    assert not Project.objects.exists()
    with pytest.raises(CommandError, match="--rounds"):
        call_command("simulate_active_learning", "--smoke", "--rounds=0", f"--data={path}")
