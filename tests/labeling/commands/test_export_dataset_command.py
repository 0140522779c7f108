"""`export_dataset`: the API's export formats from the command line (a separate process)."""

import csv
import uuid

import pyarrow.parquet as pq

from tests.conftest import PRM800K_SAMPLES


def test_export_dataset_writes_training_and_step_files_with_filters(manage, tmp_path):
    project = f"cli-{uuid.uuid4().hex[:8]}"
    assert manage("import_prm800k", PRM800K_SAMPLES, "--project", project).returncode == 0
    out = tmp_path / "train.parquet"
    done = manage(
        "export_dataset", out, "--project", project, "--format", "training_parquet",
        "--generation", "6", "--neutral", "negative",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Wrote 9 rows" in done.stderr
    table = pq.read_table(out)
    assert table.num_rows == 9 and set(table.column("generation").to_pylist()) == {6}
    assert all(labels[-1] is False for labels in table.column("labels").to_pylist())

    steps = tmp_path / "steps.csv"
    done = manage(
        "export_dataset", steps, "--project", project, "--format", "steps_csv",
        "--finish-reason", "give_up",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(steps.open(encoding="utf-8")))
    assert rows and {r["finish_reason"] for r in rows} == {"give_up"}

    bad = manage(
        "export_dataset", tmp_path / "x.jsonl", "--project", project, "--format", "prm800k",
        "--submitted-after", "last tuesday",
    )  # fmt: skip
    assert bad.returncode != 0 and "submitted_after" in bad.stderr
    assert not (tmp_path / "x.jsonl").exists()
    missing = manage("export_dataset", out, "--project", "nope", "--format", "prm800k")
    assert missing.returncode != 0 and "No project named 'nope'" in missing.stderr
