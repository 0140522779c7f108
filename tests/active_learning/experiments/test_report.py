"""The experiment's command end to end: features cached, the page written
(`active_learning/experiments/report.py`, `pools.py`, `manage.py simulate_active_learning`)."""

from active_learning.experiments import design


def test_the_command_caches_features_and_writes_the_page(tmp_path, tiny_backbone):
    """End to end on a tiny backbone: features computed once (a rerun reuses them all), and the
    page, the JSON and the plot written with the decision rule and a verdict."""
    import json

    from django.core.management import call_command

    from tests.active_learning.simulation.conftest import processbench_records

    data = tmp_path / "pb.json"
    data.write_text(json.dumps(processbench_records(60)))
    out = tmp_path / "docs" / "page"
    args = [
        "simulate_active_learning",
        "--pools=processbench",
        f"--data={data}",
        f"--backbone={tiny_backbone}",
        "--keep-layers=1",
        "--seeds=2",
        "--rounds=2",
        "--batch=6",
        "--seed-batch=6",
        f"--feature-cache={tmp_path / 'features.pt'}",
        f"--output={out}",
        f"--plot={tmp_path / 'docs' / 'img' / 'plot.png'}",
        "--reduced-note=a test run",
    ]
    call_command(*args)
    results = json.loads(out.with_name("page.json").read_text())
    facts = results["pools"]["processbench"]
    assert facts["computed"] > 0 and facts["truncated"] == 0
    assert {r["arm"] for r in results["rows"]} == set(design.ARMS)
    assert {r["form"] for r in results["rows"]} == set(design.FORMS)
    page = out.with_name("page.md").read_text()
    assert design.DECISION_RULE in page and "## Verdict: " in page
    assert "Reduced run" in page and "img/plot.png" in page
    # both budget axes, and the measured direction in the lead's paragraph whatever the outcome
    assert "At equal step labels" in page and "## Why the first oracle lost" in page
    assert "What was measured, for this small checker" in page or "effect exists" in page
    assert (tmp_path / "docs" / "img" / "plot.png").read_bytes()[:4] == b"\x89PNG"
    call_command(*args)  # again: every feature comes from the cache
    again = json.loads(out.with_name("page.json").read_text())["pools"]["processbench"]
    assert again["computed"] == 0 and again["reused"] == facts["items"]
