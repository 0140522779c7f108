"""Issue 13, "Text that breaks things", through the import services and the API's import jobs:
each example is refused with `FILE:LINE: field: what is wrong`, stores nothing, and gives the
same error on PostgreSQL and SQLite (this module runs in both suite passes); what must import
does, and exports byte for byte. Each test fails on the old code (it imported the bad text, or
crashed with a database error, or refused the good file)."""

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labeling.errors import ApplicationError
from labeling.jobs import export_job_run
from labeling.models import Labeling, Problem, Project, Solution, StepRating
from labeling.services.prm800k import prm800k_import
from labeling.services.prm800k_export import prm800k_export
from labeling.services.problems import problems_import
from labeling.services.solutions import solutions_import
from tests.conftest import PRM800K_SAMPLES
from tests.labeling import hostile
from tests.labeling.api.research_helpers import client_for, lead
from tests.labeling.api.test_export_import_jobs import import_file

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _jobs_dir(settings, tmp_path):
    settings.JOBS_DIR = tmp_path / "jobs"


def nothing_stored():
    return not (
        Problem.objects.exists()
        or Solution.objects.exists()
        or Labeling.objects.exists()
        or StepRating.objects.exists()
        or Project.objects.exists()
    )


def import_solutions(tmp_path, data: bytes, name="input.jsonl"):
    path = tmp_path / name
    path.write_bytes(data)
    return solutions_import(path=str(path), project_name="p")


def import_prm800k(data: bytes, name="input.jsonl"):
    return prm800k_import(stream=io.BytesIO(data), name=name, project_name="p")


# --- refused: nothing stored, the same message on both databases ------------------------------


@pytest.mark.parametrize(
    "case", [hostile.POOL_SURROGATE, hostile.POOL_NUL], ids=["surrogate", "nul"]
)
def test_a_solution_pool_with_bad_text_is_refused_naming_line_and_field(tmp_path, case):
    """Was: stored on SQLite (then 500s on the task page and the APIs); on PostgreSQL a
    traceback (surrogate) or a raw database error (NUL)."""
    data, error = case
    with pytest.raises(ApplicationError) as caught:
        import_solutions(tmp_path, data)
    assert caught.value.details == [f"{tmp_path}/{error}"]
    assert nothing_stored()


@pytest.mark.parametrize(
    "case", [hostile.PRM800K_SURROGATE, hostile.PRM800K_NUL], ids=["surrogate", "nul"]
)
def test_a_prm800k_file_with_bad_text_is_refused_naming_line_and_field(case):
    data, error = case
    with pytest.raises(ApplicationError) as caught:
        import_prm800k(data)
    assert caught.value.details == [error]
    assert nothing_stored()


@pytest.mark.parametrize(
    ("text", "character"),
    [("\x07", "U+0007"), ("\x1b[31m", "U+001B"), ("\x85", "U+0085"), ("\x7f", "U+007F (DEL)")],
)
def test_other_control_characters_are_refused_too(tmp_path, text, character):
    with pytest.raises(ApplicationError) as caught:
        import_solutions(tmp_path, hostile.pool_with_step(f"bad {text}"))
    assert f"steps[1]: contains the control character {character}" in caught.value.details[0]


def test_bad_text_anywhere_in_a_record_is_named(tmp_path):
    records = [
        {"problem": "ok?", "steps": ["fine"], "metadata": {"note": "a\x00b"}},
        {"problem": "ok?", "steps": ["fine"], "generator": "g\ud800"},
        {"problem": "x\x0c", "steps": ["fine"]},
        {"problem": "ok?", "steps": ["fine"], "metadata": {"k\x01": 1}},
    ]
    with pytest.raises(ApplicationError) as caught:
        import_solutions(tmp_path, hostile.jsonl(records))
    details = [d.removeprefix(f"{tmp_path}/") for d in caught.value.details]
    assert [d.split(": contains")[0].split(": a key")[0] for d in details] == [
        "input.jsonl:1: metadata.note",
        "input.jsonl:2: generator",
        "input.jsonl:3: problem",
        "input.jsonl:4: metadata",
    ]
    assert nothing_stored()


def test_a_processbench_array_and_a_parquet_pool_are_checked_the_same_way(tmp_path):
    array = json.dumps(
        [
            {"problem": "a?", "steps": ["x"], "final_answer_correct": True, "label": -1},
            {"problem": "b?", "steps": ["y\x00"], "final_answer_correct": True, "label": -1},
        ]
    )
    with pytest.raises(ApplicationError) as caught:
        import_solutions(tmp_path, array.encode(), name="pool.json")
    assert caught.value.details[0].endswith(
        "pool.json:item 1: steps[0]: " + hostile.NUL_ERROR.replace("5)", "2)")
    )
    table = pa.table({"problem": ["a?", "b?"], "steps": [["x"], ["y", "z\x00"]]})
    pq.write_table(table, tmp_path / "pool.parquet")
    with pytest.raises(ApplicationError) as caught:
        solutions_import(path=str(tmp_path / "pool.parquet"), project_name="p")
    assert caught.value.details[0].endswith(
        "pool.parquet:row 1: steps[1]: " + hostile.NUL_ERROR.replace("5)", "2)")
    )
    assert nothing_stored()


def test_a_problem_set_with_bad_text_is_refused(tmp_path):
    path = tmp_path / "problems.jsonl"
    path.write_bytes(
        hostile.jsonl([{"problem": "ok", "answer": "1"}, {"problem": "x", "solution": "s\ud83d"}])
    )
    with pytest.raises(ApplicationError) as caught:
        problems_import(path=str(path), project_name="p")
    assert caught.value.details == [
        f"{path}:2: solution: contains a lone surrogate (U+D83D): not valid Unicode text "
        "(at character 2)"
    ]
    assert nothing_stored()


# --- size limits -----------------------------------------------------------------------------


def test_a_million_step_solution_is_refused(tmp_path):
    """Issue 13: accepted and served to annotators. Refused by the record size (5 MB over the
    4 MiB default) before it is parsed."""
    with pytest.raises(ApplicationError) as caught:
        import_solutions(tmp_path, hostile.million_step_pool())
    assert caught.value.details == [
        f"{tmp_path}/input.jsonl:1: record: 5,000,030 bytes; at most 4,194,304 are "
        "allowed (setting IMPORT_MAX_RECORD_BYTES)"
    ]
    assert nothing_stored()


def test_the_steps_limit_binds_below_the_record_size(tmp_path, settings):
    settings.IMPORT_MAX_RECORD_BYTES = 64 * 1024 * 1024
    with pytest.raises(ApplicationError) as caught:
        import_solutions(tmp_path, hostile.million_step_pool())
    assert caught.value.details[0].endswith(
        "input.jsonl:1: steps: 1,000,000 steps; at most 1,000 are allowed (setting "
        "IMPORT_MAX_STEPS)"
    )
    settings.IMPORT_MAX_STEPS = 3
    ok = hostile.jsonl([{"problem": "a?", "steps": ["1", "2", "3"]}])
    assert import_solutions(tmp_path, ok).created == 1
    with pytest.raises(ApplicationError, match="steps: 4 steps; at most 3"):
        import_solutions(
            tmp_path, hostile.jsonl([{"problem": "a?", "steps": ["1", "2", "3", "4"]}])
        )


def test_a_million_step_prm800k_record_is_refused_without_parsing_it():
    """Issue 13: crashed after 87 s at 1.4 GB on a smallint overflow."""
    data = hostile.million_step_prm800k()
    assert len(data) == 76_002_531
    with pytest.raises(ApplicationError) as caught:
        import_prm800k(data)
    assert caught.value.details[0].startswith("input.jsonl:1: record: 76,002,530 bytes; at")
    assert caught.value.details[0].endswith("(setting IMPORT_MAX_RECORD_BYTES)")
    assert nothing_stored()


def test_prm800k_step_and_completion_limits(settings):
    records = hostile.sample_records()
    settings.IMPORT_MAX_STEPS = 5
    with pytest.raises(ApplicationError) as caught:
        import_prm800k(hostile.jsonl(records))
    first = caught.value.details[0]
    assert (
        ": steps; at most 5" not in first
        and "steps; at most 5 are allowed (setting IMPORT_MAX_STEPS)" in first
    )
    settings.IMPORT_MAX_STEPS = 1000
    settings.IMPORT_MAX_COMPLETIONS = 2
    with pytest.raises(ApplicationError) as caught:
        import_prm800k(hostile.jsonl(records))
    assert (
        "completions; at most 2 are allowed (setting IMPORT_MAX_COMPLETIONS)"
        in (caught.value.details[0])
    )
    assert nothing_stored()


def test_a_ten_megabyte_text_is_refused(tmp_path, settings):
    """Issue 13: 10 MB texts were accepted. Over the record size first; with a larger record
    size, over the text limit (100,000 characters by default)."""
    big = "x" * (10 * 1024 * 1024)
    data = hostile.jsonl([{"problem": "a?", "steps": ["ok", big]}])
    with pytest.raises(ApplicationError, match="record: 10,485,798 bytes; at most 4,194,304"):
        import_solutions(tmp_path, data)
    settings.IMPORT_MAX_RECORD_BYTES = 32 * 1024 * 1024
    with pytest.raises(ApplicationError) as caught:
        import_solutions(tmp_path, data)
    assert caught.value.details[0].endswith(
        "input.jsonl:1: steps[1]: 10,485,760 characters; at most 100,000 are allowed "
        "(setting IMPORT_MAX_TEXT_CHARS)"
    )
    assert nothing_stored()


@pytest.mark.parametrize(
    ("record", "error"),
    [
        ({"problem": "a", "steps": ["x"], "generator": "g" * 201}, "generator: 201 characters"),
        ({"problem": "a", "steps": ["x"], "id": "i" * 201}, "id: 201 characters"),
        ({"problem_id": 10**30, "steps": ["x"]}, "problem_id: must be a positive integer"),
        (
            {"problem": "a", "steps": ["x"], "final_answer_correct": True, "label": 10**30},
            "label: must be -1 or a step index below 1, got int",
        ),
    ],
)
def test_values_the_columns_cannot_hold_are_refused_on_both_databases(tmp_path, record, error):
    """A 201-character generator was a DataError on PostgreSQL and stored on SQLite."""
    with pytest.raises(ApplicationError) as caught:
        import_solutions(tmp_path, hostile.jsonl([record]))
    assert error in caught.value.details[0]
    assert nothing_stored()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"generation": 2**31}, "generation: must be from -1 to 2147483647, got 2147483648"),
        (
            {"label": {"steps": [], "total_time": 10**30, "finish_reason": "give_up"}},
            "label.total_time: must be a number of milliseconds from 0 to",
        ),
    ],
)
def test_prm800k_numbers_the_columns_cannot_hold_are_refused(change, error):
    record = {**hostile.sample_records()[3], **change}
    with pytest.raises(ApplicationError) as caught:
        import_prm800k(hostile.jsonl([record]))
    assert caught.value.details[0].startswith(f"input.jsonl:1: {error}")
    assert nothing_stored()


def test_a_timestamp_with_any_offset_imports_in_utc():
    """+17:18 is valid ISO 8601 that PostgreSQL refuses as a time zone (was a DataError)."""
    record = {**hostile.sample_records()[3], "timestamp": "2022-11-17T14:06:03.483479+17:18"}
    result = import_prm800k(hostile.jsonl([record]))
    assert result.created == 1 and result.kept_verbatim == 1
    labeling = Labeling.objects.get()
    assert labeling.submitted_at.utcoffset().total_seconds() == 0


# --- accepted: BOM, raw non-ASCII, byte for byte ---------------------------------------------


def test_a_byte_order_mark_is_skipped_by_every_importer(tmp_path):
    """Issue 13: a file starting with a UTF-8 BOM was refused."""
    bom = b"\xef\xbb\xbf"
    result = import_solutions(tmp_path, bom + hostile.pool_with_step("fine"))
    assert result.created == 2
    path = tmp_path / "problems.jsonl"
    path.write_bytes(bom + hostile.jsonl([{"problem": "Q?", "answer": "1"}]))
    assert problems_import(path=str(path), project_name="p").created == 1
    result = import_prm800k(bom + PRM800K_SAMPLES.read_bytes())
    assert result.created == 12 and result.kept_verbatim == 0
    out = io.StringIO()
    prm800k_export(project=Project.objects.get(name="p"), out=out)
    assert out.getvalue().encode() == PRM800K_SAMPLES.read_bytes()  # the BOM is not a line


def test_a_jq_written_line_with_raw_non_ascii_imports_and_exports_byte_for_byte(tmp_path):
    """Issue 13: it imported, then export_prm800k crashed and left an empty file."""
    data = hostile.jq_style_prm800k()
    result = import_prm800k(data)
    assert result.created == 12 and result.kept_verbatim == 12
    path = tmp_path / "out.jsonl"
    with open(path, "w", encoding="utf-8", newline="") as out:
        prm800k_export(project=Project.objects.get(name="p"), out=out)
    assert path.read_bytes() == data
    assert "≥ 2, café" in Labeling.objects.order_by("id").first().steps[0]["completions"][0]["text"]


def test_emoji_and_any_script_import_as_they_are(tmp_path):
    text = "😀 ≥ π 中文 \u00a0tab\there"
    import_solutions(tmp_path, hostile.pool_with_step(text))
    assert Solution.objects.get(problem__text="2+2?").steps[1] == text


# --- the same through the API's import jobs ----------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "case"),
    [
        ("solutions", hostile.POOL_SURROGATE),
        ("solutions", hostile.POOL_NUL),
        ("prm800k", hostile.PRM800K_SURROGATE),
        ("prm800k", hostile.PRM800K_NUL),
    ],
    ids=["solutions-surrogate", "solutions-nul", "prm800k-surrogate", "prm800k-nul"],
)
def test_import_jobs_fail_with_the_same_errors_and_store_nothing(kind, case):
    """Was: a job error holding an SQL fragment (PostgreSQL) or a silent import (SQLite)."""
    data, error = case
    project = Project.objects.create(name="p")
    job = import_file(client_for(lead()), project, kind, "input.jsonl", data)
    assert job["status"] == "failed"
    assert job["errors"] == [error]
    assert "nothing was imported" in job["error"]
    assert not Solution.objects.exists() and not Labeling.objects.exists()


def test_import_jobs_refuse_a_million_step_record():
    project = Project.objects.create(name="p")
    job = import_file(
        client_for(lead()), project, "prm800k", "big.jsonl", hostile.million_step_prm800k()
    )
    assert job["status"] == "failed"
    assert job["errors"][0].startswith("big.jsonl:1: record: 76,002,530 bytes; at")


def test_import_and_export_jobs_keep_a_jq_written_file_byte_for_byte():
    project = Project.objects.create(name="p")
    client = client_for(lead())
    data = hostile.jq_style_prm800k()
    job = import_file(client, project, "prm800k", "labels.jsonl", b"\xef\xbb\xbf" + data)
    assert job["status"] == "done", job
    response = client.post(
        "/api/exports/", {"project": project.pk, "format": "prm800k"}, format="json"
    )
    export_job_run(response.json()["id"])
    done = client.get(f"/api/exports/{response.json()['id']}/").json()
    assert done["status"] == "done", done
    assert b"".join(client.get(done["download_url"]).streaming_content) == data
    for fmt in ("training_jsonl", "steps_csv", "steps_parquet", "training_parquet"):
        response = client.post(
            "/api/exports/", {"project": project.pk, "format": fmt}, format="json"
        )
        assert response.status_code == 201
        export_job_run(response.json()["id"])
        assert client.get(f"/api/exports/{response.json()['id']}/").json()["status"] == "done", fmt


def test_every_line_that_imports_exports_byte_for_byte_whatever_its_escaping():
    """The platform writes `json.dumps` defaults; a line written any other valid way (escapes
    in upper case, an escaped solidus, raw UTF-8, other spacing or key order, a duplicate key,
    another spelling of a number) is kept as written and exported unchanged."""
    base = hostile.sample_records()[3]
    text = json.dumps(base)
    variants = [
        text.replace('"problem": "', '"problem": "\\u00E9 ', 1),  # upper-case hex escape
        text.replace('"problem": "', '"problem": "a\\/b ', 1),  # escaped solidus
        json.dumps({**base, "labeler": base["labeler"]}, ensure_ascii=False).replace(
            '"problem": "', '"problem": "≥ ', 1
        ),
        json.dumps(base, indent=None, separators=(" ,", " : ")),
        json.dumps(dict(reversed(list(base.items())))),  # key order
        text[:-1] + ', "labeler": "' + base["labeler"] + '"}',  # a duplicate key
        text.replace('"is_quality_control_question": false', '"is_quality_control_question":false'),
        text.replace('"total_time": 164458', '"total_time": 164458.0E0'),  # a number spelled anew
    ]
    assert len(set(variants)) == len(variants) and text not in variants
    data = "".join(line + "\n" for line in variants).encode("utf-8")
    result = import_prm800k(data)
    assert result.created == len(variants)
    out = io.StringIO()
    prm800k_export(project=Project.objects.get(name="p"), out=out)
    assert out.getvalue().encode("utf-8") == data
