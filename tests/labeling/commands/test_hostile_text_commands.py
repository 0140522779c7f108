"""Issue 13, "Text that breaks things", through the commands as a user runs them (a separate
process, a real committed database: PostgreSQL in the main pass, SQLite in the second), and
the same bad file against both databases side by side. Each test fails on the old code."""

import subprocess
import sys
import uuid

import pytest

from tests.conftest import PRM800K_SAMPLES, ROOT
from tests.labeling import hostile

BOM = b"\xef\xbb\xbf"


def project_name():
    return f"hostile-{uuid.uuid4().hex[:8]}"


def write(tmp_path, data: bytes, name="input.jsonl"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def refused(result, path, error: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert f"{path.parent}/{error}" in result.stderr, result.stderr


def absent(manage, project) -> bool:
    """Nothing was stored: not even the project the import would have created."""
    result = manage("export_prm800k", "--project", project, "-")
    return result.returncode != 0 and "No project named" in result.stderr


@pytest.mark.parametrize("case", ["surrogate", "nul"])
def test_import_solutions_refuses_bad_text_and_stores_nothing(manage, tmp_path, case):
    data, error = {"surrogate": hostile.POOL_SURROGATE, "nul": hostile.POOL_NUL}[case]
    path = write(tmp_path, data)
    project = project_name()
    refused(manage("import_solutions", path, "--project", project), path, error)
    assert absent(manage, project)


@pytest.mark.parametrize("case", ["surrogate", "nul"])
def test_import_prm800k_refuses_bad_text_and_stores_nothing(manage, tmp_path, case):
    """On PostgreSQL this was a traceback (surrogate) and a raw database error (NUL)."""
    data, error = {"surrogate": hostile.PRM800K_SURROGATE, "nul": hostile.PRM800K_NUL}[case]
    path = write(tmp_path, data)
    project = project_name()
    refused(manage("import_prm800k", path, "--project", project), path, error)
    assert absent(manage, project)


def test_a_jq_written_file_exports_byte_for_byte_to_a_file_and_to_stdout(
    manage, cli_database, tmp_path
):
    """Was: imported, then export_prm800k crashed and left an empty file."""
    data = hostile.jq_style_prm800k()
    path = write(tmp_path, data)
    project = project_name()
    result = manage("import_prm800k", path, "--project", project)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out.jsonl"
    result = manage("export_prm800k", "--project", project, out)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == data
    assert not (tmp_path / "out.jsonl.partial").exists()
    to_stdout = subprocess.run(
        [sys.executable, "manage.py", "export_prm800k", "--project", project, "-"],
        cwd=ROOT,
        env={**cli_database, "LANG": "C", "LC_ALL": "C", "PYTHONIOENCODING": "ascii"},
        capture_output=True,
    )
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert to_stdout.stdout == data  # whatever the locale says stdout's encoding is


def test_every_importer_skips_a_byte_order_mark(manage, tmp_path):
    """Was: 'invalid JSON' at line 1."""
    project = project_name()
    problems = write(tmp_path, BOM + hostile.jsonl([{"problem": "Q?", "answer": "1"}]), "p.jsonl")
    result = manage("import_problems", problems, "--project", project)
    assert result.returncode == 0 and "Imported 1 problems" in result.stdout, result.stderr
    pool = write(tmp_path, BOM + hostile.pool_with_step("fine"), "pool.jsonl")
    result = manage("import_solutions", pool, "--project", project)
    assert result.returncode == 0 and "Imported 2 solutions" in result.stdout, result.stderr
    labels = write(tmp_path, BOM + PRM800K_SAMPLES.read_bytes(), "labels.jsonl")
    result = manage("import_prm800k", labels, "--project", project)
    assert result.returncode == 0 and "Imported 12 labelings" in result.stdout, result.stderr
    out = tmp_path / "out.jsonl"
    assert manage("export_prm800k", "--project", project, out).returncode == 0
    assert out.read_bytes() == PRM800K_SAMPLES.read_bytes()


def test_a_million_step_prm800k_record_is_refused_with_a_clear_error(manage, tmp_path):
    """Was: crashed after 87 s at 1.4 GB on a smallint overflow."""
    path = write(tmp_path, hostile.million_step_prm800k())
    project = project_name()
    result = manage("import_prm800k", path, "--project", project)
    refused(
        result,
        path,
        "input.jsonl:1: record: 76,002,530 bytes; at most 4,194,304 are allowed "
        "(setting IMPORT_MAX_RECORD_BYTES)",
    )
    assert absent(manage, project)


def test_a_million_step_solution_is_refused_and_the_limit_is_a_setting(
    manage, cli_database, tmp_path
):
    path = write(tmp_path, hostile.million_step_pool())
    project = project_name()
    result = manage("import_solutions", path, "--project", project)
    refused(result, path, "input.jsonl:1: record: 5,000,030 bytes; at most 4,194,304")
    raised = run_with(cli_database, {"IMPORT_MAX_RECORD_BYTES": str(8 * 1024 * 1024)})
    result = raised("import_solutions", path, "--project", project)
    refused(
        result,
        path,
        "input.jsonl:1: steps: 1,000,000 steps; at most 1,000 are allowed "
        "(setting IMPORT_MAX_STEPS)",
    )
    assert absent(manage, project)


# --- the same file, both databases -----------------------------------------------------------


def run_with(cli_database, extra: dict):
    """Like the `manage` fixture, with more environment variables."""
    env = {**cli_database, **extra}

    def run(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *map(str, args)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )

    return run


@pytest.mark.postgres
def test_the_same_bad_files_give_the_same_errors_on_postgresql_and_sqlite(
    manage, cli_database, tmp_path
):
    """Issue 13, done when: the same bad file gives the same error on both databases. Before,
    SQLite stored a NUL or a lone surrogate that PostgreSQL refused with a database error."""
    sqlite = {"DATABASE_URL": f"sqlite:///{tmp_path / 'other.sqlite3'}"}
    on_sqlite = run_with(cli_database, sqlite)
    migrated = on_sqlite("migrate", "-v0")
    assert migrated.returncode == 0, migrated.stderr
    cases = [
        ("import_solutions", hostile.POOL_SURROGATE[0]),
        ("import_solutions", hostile.POOL_NUL[0]),
        ("import_prm800k", hostile.PRM800K_SURROGATE[0]),
        ("import_prm800k", hostile.PRM800K_NUL[0]),
    ]
    for command, data in cases:
        path = write(tmp_path, data)
        project = project_name()
        postgres = manage(command, path, "--project", project)
        other = on_sqlite(command, path, "--project", project)
        assert postgres.returncode == other.returncode == 1
        assert postgres.stderr == other.stderr
        assert postgres.stdout == other.stdout == ""
