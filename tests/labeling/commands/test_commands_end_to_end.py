"""The management commands run as a user runs them: a separate process, a real database
(see the `cli_database` fixture)."""

import json
import uuid

from tests.conftest import PRM800K_SAMPLES, SHARED_DATA


def project_name():
    return f"cli-{uuid.uuid4().hex[:8]}"


def test_import_then_export_reproduces_the_file_byte_for_byte(manage, tmp_path):
    project = project_name()
    first = manage("import_prm800k", PRM800K_SAMPLES, "--project", project)
    assert first.returncode == 0, first.stderr
    assert "Imported 12 labelings" in first.stdout
    again = manage("import_prm800k", PRM800K_SAMPLES, "--project", project)
    assert again.returncode == 0 and "Nothing new" in again.stdout
    out = tmp_path / "out.jsonl"
    exported = manage("export_prm800k", "--project", project, out)
    assert exported.returncode == 0, exported.stderr
    assert out.read_bytes() == PRM800K_SAMPLES.read_bytes()
    to_stdout = manage("export_prm800k", "--project", project, "--generation", "6", "-")
    assert to_stdout.returncode == 0
    lines = to_stdout.stdout.splitlines()
    assert len(lines) == 9 and all(json.loads(x)["generation"] == 6 for x in lines)


def test_a_bad_line_exits_non_zero_with_file_and_line_and_stores_nothing(manage, tmp_path):
    lines = PRM800K_SAMPLES.read_text().splitlines()
    record = json.loads(lines[4])
    record["label"]["steps"][0]["completions"][0]["rating"] = 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([lines[3], json.dumps(record), lines[5]]) + "\n")
    project = project_name()
    result = manage("import_prm800k", bad, "--project", project)
    assert result.returncode != 0
    assert f"{bad}:2: label.steps[0].completions[0].rating: must be -1, 0, 1 or null, got 2" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    export = manage("export_prm800k", "--project", project, "-")
    assert export.returncode != 0 and "No project named" in export.stderr  # nothing was created


def test_missing_and_empty_files(manage, tmp_path):
    missing = manage("import_prm800k", tmp_path / "nope.jsonl", "--project", project_name())
    assert missing.returncode != 0
    assert "nope.jsonl: no such file" in missing.stderr and "Traceback" not in missing.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = manage("import_prm800k", empty, "--project", project_name())
    assert result.returncode == 0 and "empty: nothing imported" in result.stdout


def test_import_from_standard_input(manage):
    project = project_name()
    result = manage("import_prm800k", "-", "--project", project, stdin=PRM800K_SAMPLES.read_text())
    assert result.returncode == 0 and "Imported 12" in result.stdout


def test_demo_style_load_problems_solutions_and_users(manage, tmp_path):
    project = project_name()
    problems = manage("import_problems", SHARED_DATA / "math500_test.jsonl", "--project", project)
    assert problems.returncode == 0 and "Imported 500 problems" in problems.stdout
    pool = tmp_path / "pool.json"
    pool.write_text(
        json.dumps(json.loads((SHARED_DATA / "processbench_math.json").read_text())[:25])
    )
    solutions = manage("import_solutions", pool, "--project", project)
    assert solutions.returncode == 0, solutions.stderr
    assert "Imported 25 solutions" in solutions.stdout and "generation 0" in solutions.stdout
    user = manage(
        "add_user", "ann", "--role", "annotator", "--password", "pw12345678", "--project", project
    )
    assert user.returncode == 0, user.stderr
    token = user.stdout.split("API token: ")[1].strip()
    assert len(token) == 40
    duplicate = manage("add_user", "ann", "--role", "lead")
    assert duplicate.returncode != 0 and "already exists" in duplicate.stderr
    bad_role = manage("add_user", "bob", "--role", "boss")
    assert bad_role.returncode != 0 and "invalid choice" in bad_role.stderr
