"""Background exports and imports through the API: every format, filters, downloads, error
reports, roles, and an export that round-trips through import."""

import csv
import io
import json

import pyarrow.parquet as pq
import pytest

from active_learning.prm.data import PROMPT_SUFFIX
from labeling import prm800k
from labeling.jobs import export_job_run, import_job_run
from labeling.models import (
    ExportJob,
    ImportJob,
    Labeling,
    Problem,
    Project,
    Solution,
    StepRating,
)
from tests.conftest import PRM800K_SAMPLES, SHARED_DATA
from tests.factories import ProblemFactory

from .research_helpers import annotator, client_for, import_samples, lead, researcher

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _jobs_dir(settings, tmp_path):
    settings.JOBS_DIR = tmp_path / "jobs"


def export(client, project, fmt, filters=None):
    """Queue an export through the API, run its task here, and download the file."""
    body = {"project": project.pk, "format": fmt}
    if filters is not None:
        body["filters"] = filters
    response = client.post("/api/exports/", body, format="json")
    assert response.status_code == 201, response.json()
    job_id = response.json()["id"]
    assert response.json()["status"] == "queued"
    export_job_run(job_id)
    job = client.get(f"/api/exports/{job_id}/").json()
    assert job["status"] == "done", job
    assert job["progress"] == job["total"]
    download = client.get(job["download_url"])
    assert download.status_code == 200
    return job, b"".join(download.streaming_content)


def import_file(client, project, kind, name, data: bytes, **extra) -> dict:
    upload_file = io.BytesIO(data)
    upload_file.name = name
    response = client.post(
        "/api/imports/",
        {"project": project.pk, "kind": kind, "file": upload_file, **extra},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    import_job_run(response.json()["id"])
    return client.get(f"/api/imports/{response.json()['id']}/").json()


# --- exports ----------------------------------------------------------------------------------


def test_prm800k_export_is_byte_for_byte_the_imported_file():
    project = import_samples()
    job, data = export(client_for(researcher(project)), project, "prm800k")
    assert data == PRM800K_SAMPLES.read_bytes()
    assert job["row_count"] == job["total"] == 12


def test_prm800k_export_with_filters_writes_the_matching_lines_in_order():
    project = import_samples()
    lines = PRM800K_SAMPLES.read_text(encoding="utf-8").splitlines()
    client = client_for(researcher(project))
    _, data = export(client, project, "prm800k", {"generation": 6})
    assert data.decode().splitlines() == [x for x in lines if json.loads(x)["generation"] == 6]
    _, data = export(client, project, "prm800k", {"finish_reason": ["give_up", "solution"]})
    expected = [x for x in lines if json.loads(x)["label"]["finish_reason"] != "found_error"]
    assert data.decode().splitlines() == expected
    _, data = export(
        client, project, "prm800k", {"submitted_before": "2022-08-01T00:00:00Z", "labeler": "x"}
    )
    assert data == b""


def _expected_training(record, neutral_positive=True):
    """Independently of the exporter: the trajectory up to the first Negative step."""
    steps = record["label"]["steps"]
    first_error = prm800k.first_error_index(steps)
    texts, labels = [], []
    for i, step in enumerate(steps):
        if first_error is not None and i == first_error:
            texts.append(step["completions"][0]["text"])
            labels.append(False)
            break
        chosen = step["chosen_completion"]
        completion = step["completions"][chosen] if chosen is not None else step["human_completion"]
        if completion is None or completion.get("rating") is None:
            break
        texts.append(completion["text"])
        labels.append(completion["rating"] == 1 or (completion["rating"] == 0 and neutral_positive))
    return texts, labels


@pytest.mark.parametrize("neutral", ["positive", "negative"])
def test_training_parquet_loads_with_datasets_and_follows_the_recipe(
    tmp_path, neutral, monkeypatch
):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    project = import_samples()
    _, data = export(
        client_for(researcher(project)), project, "training_parquet", {"neutral": neutral}
    )
    path = tmp_path / "train.parquet"
    path.write_bytes(data)
    dataset = datasets.load_dataset(
        "parquet", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache")
    )
    assert {"prompt", "completions", "labels"} <= set(dataset.column_names)
    records = [json.loads(x) for x in PRM800K_SAMPLES.read_text(encoding="utf-8").splitlines()]
    kept = [r for r in records if r["label"]["finish_reason"] not in ("give_up", "bad_problem")]
    expected = [
        (record, *_expected_training(record, neutral_positive=neutral == "positive"))
        for record in kept
    ]
    # a labeling whose first step on the trajectory is unrated (a human completion without a
    # rating) has nothing to train on
    expected = [x for x in expected if x[1]]
    assert len(dataset) == len(expected) == 10
    for row, (record, texts, labels) in zip(dataset, expected, strict=True):
        assert row["prompt"] == record["question"]["problem"]
        assert row["completions"] == texts
        assert row["labels"] == labels
    assert any(False in row["labels"][:-1] for row in dataset) == (neutral == "negative")


def test_training_jsonl_matches_the_parquet_rows_and_own_class_keeps_neutral():
    project = import_samples()
    client = client_for(researcher(project))
    _, jsonl = export(client, project, "training_jsonl")
    _, parquet = export(client, project, "training_parquet")
    rows = [json.loads(line) for line in jsonl.decode().splitlines()]
    assert rows == pq.read_table(io.BytesIO(parquet)).to_pylist()
    _, own = export(client, project, "training_jsonl", {"neutral": "own"})
    own_labels = [
        label for line in own.decode().splitlines() for label in json.loads(line)["labels"]
    ]
    neutral_ratings = StepRating.objects.filter(labeling__project=project, rating=0).count()
    assert set(own_labels) <= {0, 1, 2}
    if neutral_ratings:
        assert 1 in own_labels


def test_quality_control_solutions_count_once_in_training_exports():
    project = import_samples()
    labelings = Labeling.objects.filter(project=project, generation__number=6).order_by("id")
    first, second = labelings[0], labelings[1]
    Labeling.objects.filter(pk__in=[first.pk, second.pk]).update(
        is_quality_control=True, solution=first.solution
    )
    _, data = export(client_for(researcher(project)), project, "training_jsonl")
    ids = [json.loads(line)["labeling_id"] for line in data.decode().splitlines()]
    assert first.pk in ids and second.pk not in ids


@pytest.mark.parametrize("fmt", ["steps_csv", "steps_parquet"])
def test_step_table_has_one_row_per_rated_completion(fmt):
    project = import_samples()
    _, data = export(client_for(researcher(project)), project, fmt)
    if fmt == "steps_csv":
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        key = lambda r: (int(r["labeling_id"]), int(r["step_index"]), int(r["completion_index"]))  # noqa: E731
        ratings = {key(r): int(r["rating"]) for r in rows}
    else:
        rows = pq.read_table(io.BytesIO(data)).to_pylist()
        ratings = {
            (r["labeling_id"], r["step_index"], r["completion_index"]): r["rating"] for r in rows
        }
    expected = {
        (r.labeling_id, r.step_index, r.completion_index): r.rating
        for r in StepRating.objects.filter(labeling__project=project, rating__isnull=False)
    }
    assert len(rows) == len(expected) > 12
    assert ratings == expected


def test_invalid_export_requests_are_400_and_queue_nothing():
    project = import_samples()
    client = client_for(researcher(project))
    for body in [
        {"project": project.pk, "format": "xlsx"},
        {"project": project.pk, "format": "prm800k", "filters": {"generation": -5}},
        {"project": project.pk, "format": "prm800k", "filters": {"finish_reason": ["bored"]}},
        {"project": project.pk, "format": "training_jsonl", "filters": {"neutral": "maybe"}},
        {"project": 999999, "format": "prm800k"},
    ]:
        response = client.post("/api/exports/", body, format="json")
        assert response.status_code == 400, body
    assert not ExportJob.objects.exists()


def test_exports_and_downloads_are_for_researchers_of_the_project_and_leads():
    project = import_samples()
    other = Project.objects.create(name="other")
    job, _ = export(client_for(lead()), project, "prm800k")
    outsider = researcher(other)
    assert client_for(outsider).get(job["download_url"]).status_code == 404
    assert client_for(outsider).get("/api/exports/").json()["count"] == 0
    assert client_for(annotator(project)).get(job["download_url"]).status_code == 403
    body = {"project": project.pk, "format": "prm800k"}
    assert (
        client_for(annotator(project)).post("/api/exports/", body, format="json").status_code == 403
    )
    assert client_for(outsider).post("/api/exports/", body, format="json").status_code == 400


def test_a_download_before_the_export_is_done_is_409():
    project = import_samples()
    client = client_for(researcher(project))
    job = client.post("/api/exports/", {"project": project.pk, "format": "prm800k"}, format="json")
    response = client.get(f"/api/exports/{job.json()['id']}/download/")
    assert response.status_code == 409


# --- imports ----------------------------------------------------------------------------------


def test_an_api_export_round_trips_through_an_api_import():
    source = import_samples("source")
    target = Project.objects.create(name="target")
    user = lead()
    client = client_for(user)
    _, data = export(client, source, "prm800k")
    job = import_file(client, target, "prm800k", "exported.jsonl", data)
    assert job["status"] == "done", job
    assert job["progress"] == job["total"] == 12
    assert job["result"]["created"] == 12
    _, again = export(client, target, "prm800k")
    assert again == data == PRM800K_SAMPLES.read_bytes()
    # importing the same file again stores nothing new
    job = import_file(client, target, "prm800k", "exported.jsonl", data)
    assert job["result"]["created"] == 0
    assert Labeling.objects.filter(project=target).count() == 12


def test_a_bad_prm800k_file_imports_nothing_and_names_file_line_and_field():
    project = Project.objects.create(name="p")
    lines = PRM800K_SAMPLES.read_text(encoding="utf-8").splitlines()
    bad = json.loads(lines[4])
    bad["label"]["steps"][0]["completions"][0]["rating"] = 2
    data = "\n".join([lines[0], lines[1], json.dumps(bad), "{not json"]).encode()
    job = import_file(client_for(lead()), project, "prm800k", "labels.jsonl", data)
    assert job["status"] == "failed"
    assert "nothing was imported" in job["error"]
    assert job["errors"][0].startswith("labels.jsonl:3: label.steps[0].completions[0].rating")
    assert job["errors"][1].startswith("labels.jsonl:4: invalid JSON")
    assert not Labeling.objects.exists() and not Problem.objects.exists()


def test_math_parquet_problems_import_with_the_prompt_suffix_stripped():
    project = Project.objects.create(name="math")
    data = (SHARED_DATA / "math_test.parquet").read_bytes()
    job = import_file(client_for(lead()), project, "problems", "math_test.parquet", data)
    assert job["status"] == "done", job
    rows = pq.ParquetFile(SHARED_DATA / "math_test.parquet").metadata.num_rows
    assert job["total"] == rows
    assert Problem.objects.filter(project=project).count() == job["result"]["created"] > 0
    assert not Problem.objects.filter(text__endswith=PROMPT_SUFFIX).exists()
    assert not Problem.objects.filter(project=project, reference_answer=None).exists()


def test_math_jsonl_problems_import():
    project = Project.objects.create(name="math500")
    data = (SHARED_DATA / "math500_test.jsonl").read_bytes()
    job = import_file(client_for(lead()), project, "problems", "math500_test.jsonl", data)
    assert job["status"] == "done", job
    assert job["result"]["created"] == len(data.splitlines()) == job["total"]


def test_solution_pool_with_text_steps_problem_references_and_generator_metadata():
    project = Project.objects.create(name="pool")
    problem = ProblemFactory(project=project, external_id="test/algebra/1.json")
    lines = [
        {
            "problem_external_id": "test/algebra/1.json",
            "steps": "First, add.\n\nThen check.\n\n# Answer\n\n2",
            "generator": "tiny-llm",
            "metadata": {"temperature": 0.7, "seed": 3},
        },
        {"problem_id": problem.pk, "steps": ["Guess.", "The answer is $\\boxed{3}$."]},
        {"problem": "A new problem?", "steps": ["Yes."], "final_answer": "yes"},
    ]
    data = "".join(json.dumps(x) + "\n" for x in lines).encode()
    job = import_file(client_for(lead()), project, "solutions", "pool.jsonl", data, generation=0)
    assert job["status"] == "done", job
    first, second, third = Solution.objects.filter(project=project).order_by("id")
    assert first.problem == problem and first.steps == [
        "First, add.",
        "Then check.",
        "# Answer\n\n2",
    ]
    assert first.final_answer == "2" and first.generator == "tiny-llm"
    assert first.metadata == {"temperature": 0.7, "seed": 3}
    assert second.problem == problem and second.final_answer == "3"
    assert third.problem.text == "A new problem?" and third.final_answer == "yes"
    assert job["result"]["generation"] == 0


def test_a_bad_solution_pool_names_each_bad_line_and_imports_nothing():
    project = Project.objects.create(name="pool")
    lines = [
        json.dumps({"problem": "Fine?", "steps": ["ok"]}),
        json.dumps({"problem_external_id": "missing/1.json", "steps": ["x"]}),
        json.dumps({"problem": "Steps?", "steps": 5}),
        json.dumps({"steps": ["no problem"]}),
    ]
    job = import_file(
        client_for(lead()), project, "solutions", "pool.jsonl", "\n".join(lines).encode()
    )
    assert job["status"] == "failed"
    assert job["errors"] == [
        "pool.jsonl:3: steps: must be a list of strings or a text",
        "pool.jsonl:4: problem: missing (give problem, problem_id or problem_external_id)",
    ]
    assert not Solution.objects.exists()
    # with the shape errors fixed, the unknown reference is reported (and still nothing stored)
    job = import_file(
        client_for(lead()), project, "solutions", "pool.jsonl", "\n".join(lines[:2]).encode()
    )
    assert job["errors"] == [
        "pool.jsonl:2: problem_external_id: no problem 'missing/1.json' in this project"
    ]
    assert not Solution.objects.exists() and not Problem.objects.exists()


def test_processbench_json_imports_as_a_solution_pool():
    project = Project.objects.create(name="pb")
    data = (SHARED_DATA / "processbench_math.json").read_bytes()
    job = import_file(client_for(lead()), project, "solutions", "processbench_math.json", data)
    assert job["status"] == "done", job
    records = json.loads(data)
    assert Solution.objects.filter(project=project, source="processbench").count() == len(records)


def test_imports_are_for_researchers_and_leads_only():
    project = Project.objects.create(name="p")
    upload_file = io.BytesIO(b'{"problem": "x"}\n')
    upload_file.name = "x.jsonl"
    body = {"project": project.pk, "kind": "problems", "file": upload_file}
    response = client_for(annotator(project)).post("/api/imports/", body, format="multipart")
    assert response.status_code == 403
    assert not ImportJob.objects.exists()


def test_generation_is_only_for_solution_imports():
    project = Project.objects.create(name="p")
    upload_file = io.BytesIO(b'{"problem": "x"}\n')
    upload_file.name = "x.jsonl"
    body = {"project": project.pk, "kind": "problems", "file": upload_file, "generation": 2}
    response = client_for(researcher(project)).post("/api/imports/", body, format="multipart")
    assert response.status_code == 400
    assert "generation" in response.json()
