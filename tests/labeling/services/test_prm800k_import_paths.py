"""PRM800K import: the fast paths (COPY on PostgreSQL, caches of ids and digests, the set-based
recount) store what the plain ORM path stores, and dedup against what a project already holds."""

import copy
import io
import json

import psycopg
import pytest

from labeling.bulk_insert import insert_rows_returning_ids
from labeling.models import (
    GenerationItem,
    Labeling,
    LabelingStatus,
    Problem,
    Project,
    Solution,
    StepRating,
    User,
)
from labeling.services import prm800k as prm800k_service
from labeling.services.prm800k import prm800k_import
from labeling.services.prm800k_export import prm800k_export
from labeling.services.quality import generation_items_recount

pytestmark = pytest.mark.django_db


def import_lines(lines, project="p"):
    data = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    return prm800k_import(stream=io.BytesIO(data.encode()), name="f.jsonl", project_name=project)


def export_text(project="p") -> str:
    out = io.StringIO()
    prm800k_export(project=Project.objects.get(name=project), out=out)
    return out.getvalue()


def another_labeling(record: dict, labeler: str, microsecond: int) -> dict:
    """The same solution labeled by someone else at another time (a new line)."""
    other = copy.deepcopy(record)
    other["labeler"] = labeler
    other["timestamp"] = f"2022-11-23T10:00:00.{microsecond:06d}"
    return other


def test_import_into_a_non_empty_project_dedups_against_what_it_holds(sample_records):
    first = [sample_records[i] for i in (0, 3, 4)]
    import_lines(first)
    solutions = Solution.objects.count()
    problems = Problem.objects.count()
    # old lines, a new labeling of a stored solution, a line twice in the file, a new record
    again = another_labeling(sample_records[3], "00000000-0000-4000-8000-000000000002", 7)
    second = [*first, again, again, sample_records[5]]
    result = import_lines(second)
    assert (result.created, result.already_present) == (2, 4)
    assert result.solutions_created == 1  # only sample 5's; the new labeling reuses a stored one
    assert result.problems_created == 1
    assert Solution.objects.count() == solutions + 1
    assert Problem.objects.count() == problems + 1
    stored = Solution.objects.get(labelings__labeler__labeler_uuid=again["labeler"])
    assert stored.labelings.count() == 2
    lines = [json.dumps(r) for r in [*first, again, sample_records[5]]]
    assert export_text() == "".join(line + "\n" for line in lines)


def test_a_line_twice_in_one_file_is_stored_once(sample_lines):
    result = import_lines([sample_lines[4], sample_lines[4], sample_lines[5]])
    assert (result.created, result.already_present) == (2, 1)
    assert Labeling.objects.count() == 2


def test_records_that_disagree_with_a_stored_problem_or_solution_still_round_trip(
    sample_records,
):
    base = sample_records[4]
    import_lines([base])  # defines the problem and the solution
    other_truth = another_labeling(base, "00000000-0000-4000-8000-000000000003", 1)
    other_truth["question"]["ground_truth_solution"] = "Another reference solution."
    other_answer = another_labeling(base, "00000000-0000-4000-8000-000000000004", 2)
    other_answer["question"]["pre_generated_answer"] = "42"
    agreeing = another_labeling(base, "00000000-0000-4000-8000-000000000005", 3)
    upper = another_labeling(base, "00000000-0000-4000-8000-00000000000A", 4)
    result = import_lines([other_truth, other_answer, agreeing, upper])
    assert result.created == 4
    # three differ from what is stored (reference solution, answer, UUID spelling): kept as is
    assert result.kept_verbatim == 3
    assert Labeling.objects.exclude(source_line=None).count() == 3
    assert Solution.objects.count() == 1
    assert Solution.objects.get().final_answer == base["question"]["pre_generated_answer"]
    lines = [json.dumps(r) for r in [base, other_truth, other_answer, agreeing, upper]]
    assert export_text() == "".join(line + "\n" for line in lines)


def test_the_same_disagreement_within_one_chunk_is_caught_too(sample_records, monkeypatch):
    monkeypatch.setattr("labeling.services.prm800k.CHUNK_SIZE", 100)
    base = sample_records[4]
    other_truth = another_labeling(base, "00000000-0000-4000-8000-000000000003", 1)
    other_truth["question"]["ground_truth_answer"] = "7"
    result = import_lines([base, other_truth])
    assert result.kept_verbatim == 1
    kept = Labeling.objects.get(source_line__isnull=False)
    assert str(kept.labeler.labeler_uuid) == other_truth["labeler"]
    assert export_text() == "".join(json.dumps(r) + "\n" for r in [base, other_truth])


def test_generation_item_counts_after_import(sample_records):
    lines = [*sample_records]
    lines.append(another_labeling(sample_records[4], "00000000-0000-4000-8000-000000000006", 1))
    qc = another_labeling(sample_records[4], "00000000-0000-4000-8000-000000000007", 2)
    qc["is_quality_control_question"] = True  # not counted
    lines.append(qc)
    import_lines(lines)
    project = Project.objects.get(name="p")
    items = GenerationItem.objects.filter(generation__project=project)
    assert items.exists()
    for item in items:
        expected = Labeling.objects.filter(
            solution=item.solution_id,
            generation=item.generation_id,
            status=LabelingStatus.SUBMITTED,
            is_quality_control=False,
            is_screening=False,
        ).count()
        assert item.submitted_count == expected
        assert item.is_open == (expected < project.overlap)
    solution = Solution.objects.get(labelings__labeler__labeler_uuid=qc["labeler"])
    assert GenerationItem.objects.get(solution=solution).submitted_count == 2


def test_recount_fixes_stale_counts_and_follows_the_overlap(sample_records):
    import_lines(sample_records)
    project = Project.objects.get(name="p")
    items = GenerationItem.objects.filter(generation__project=project)
    truth = {(i.generation_id, i.solution_id): i.submitted_count for i in items}
    assert truth and all(count >= 1 for count in truth.values())
    abandoned = Labeling.objects.filter(generation__isnull=False).order_by("id").first()
    Labeling.objects.filter(pk=abandoned.pk).update(status=LabelingStatus.ABANDONED)
    truth[(abandoned.generation_id, abandoned.solution_id)] -= 1
    items.update(submitted_count=5, is_open=False)  # stale
    project.overlap = 2
    project.save()
    generation_items_recount(project)
    now = {(i.generation_id, i.solution_id): (i.submitted_count, i.is_open) for i in items.all()}
    assert now == {key: (count, count < 2) for key, count in truth.items()}
    assert 0 in truth.values() or min(truth.values()) >= 1
    project.overlap = 1
    project.save()
    generation_items_recount(project)
    now = {(i.generation_id, i.solution_id): (i.submitted_count, i.is_open) for i in items.all()}
    assert now == {key: (count, count < 1) for key, count in truth.items()}


def test_recount_leaves_other_projects_alone(sample_lines):
    import_lines(sample_lines, project="a")
    import_lines(sample_lines, project="b")
    GenerationItem.objects.filter(generation__project__name="b").update(submitted_count=9)
    generation_items_recount(Project.objects.get(name="a"))
    assert set(
        GenerationItem.objects.filter(generation__project__name="b").values_list(
            "submitted_count", flat=True
        )
    ) == {9}


def test_the_writer_keeps_ids_and_digests_only(sample_lines, monkeypatch):
    writers = []
    real = prm800k_service._Writer

    def keep(*args):
        writers.append(real(*args))
        return writers[-1]

    monkeypatch.setattr(prm800k_service, "_Writer", keep)
    import_lines(sample_lines)
    writer = writers[0]
    cached = [
        *writer.problems.values(),
        *writer.solutions.values(),
        *writer.users.values(),
        *writer.problems,
        *writer.solutions,
        *writer.seen,
    ]
    assert cached
    for value in cached:
        parts = value if isinstance(value, tuple) else (value,)
        # ids, digests and (labelers) the short canonical UUID string; no models, no texts
        assert all(
            isinstance(p, int | bytes) or (isinstance(p, str) and len(p) == 36) for p in parts
        )
    assert all(len(p) <= 40 for p in [*writer.problems, *writer.solutions, *writer.seen])


def test_insert_rows_returning_ids_fills_defaults_and_returns_ids_in_order():
    project = Project.objects.create(name="p")
    rows = [(project.pk, f"problem {i}", f"{i:064x}") for i in range(5)]
    ids = insert_rows_returning_ids(Problem, ("project_id", "text", "text_hash"), rows)
    assert ids == sorted(ids) and len(set(ids)) == 5
    for pk, (_, text, text_hash) in zip(ids, rows, strict=True):
        problem = Problem.objects.get(pk=pk)
        assert (problem.text, problem.text_hash) == (text, text_hash)
        assert problem.created_at is not None and problem.updated_at is not None
        assert problem.reference_solution == "" and problem.reference_answer is None
    assert insert_rows_returning_ids(Problem, ("project_id",), []) == []
    # the sequence moved on: an ordinary insert after it gets a fresh id
    assert Problem.objects.create(project=project, text="x", text_hash="x").pk > max(ids)


def _rows(project: str) -> dict:
    """Everything an import stored for `project`, ids replaced by natural keys."""
    labeling_fields = [
        f.attname
        for f in Labeling._meta.concrete_fields
        if f.attname not in {"id", "project_id", "created_at", "updated_at", "solution_id"}
        and f.attname != "generation_id"
    ]
    labelings = []
    for labeling in Labeling.objects.filter(project__name=project).order_by("id"):
        values = {name: getattr(labeling, name) for name in labeling_fields}
        values["solution"] = labeling.solution.steps_hash
        values["generation"] = labeling.generation.number if labeling.generation else None
        values["ratings"] = list(
            StepRating.objects.filter(labeling=labeling)
            .order_by("step_index", "completion_index")
            .values_list("step_index", "completion_index", "rating", "flagged")
        )
        labelings.append(values)
    solutions = list(
        Solution.objects.filter(project__name=project)
        .order_by("id")
        .values_list(
            "problem__text_hash",
            "steps",
            "steps_hash",
            "final_answer",
            "generator",
            "source",
            "external_id",
            "metadata",
            "is_correct",
            "graded_at",
            "prm_score",
        )
    )
    problems = list(
        Problem.objects.filter(project__name=project)
        .order_by("id")
        .values_list(
            "text",
            "text_hash",
            "reference_solution",
            "reference_answer",
            "subject",
            "level",
            "external_id",
        )
    )
    items = list(
        GenerationItem.objects.filter(generation__project__name=project)
        .order_by("generation__number", "rank")
        .values_list(
            "generation__number",
            "generation__strategy",
            "solution__steps_hash",
            "rank",
            "score",
            "submitted_count",
            "is_open",
        )
    )
    return {"labelings": labelings, "solutions": solutions, "problems": problems, "items": items}


@pytest.mark.postgres
def test_copy_and_bulk_create_store_identical_rows(sample_records, monkeypatch):
    lines = [*sample_records]
    lines.append(another_labeling(sample_records[4], "00000000-0000-4000-8000-00000000000B", 1))
    odd = copy.deepcopy(sample_records[6])
    odd["question"]["pre_generated_verifier_score"] = 1
    lines.append(odd)
    monkeypatch.setattr("labeling.services.prm800k.CHUNK_SIZE", 5)
    copies = []
    real_copy = psycopg.Cursor.copy

    def counted_copy(self, statement, *args, **kwargs):
        copies.append(statement)
        return real_copy(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", counted_copy)
    import_lines(lines, project="copy")
    assert any("labeling_labeling" in s for s in copies)
    assert any("labeling_solution" in s for s in copies)
    copies.clear()
    monkeypatch.setattr("labeling.bulk_insert.copy_supported", lambda: False)
    import_lines(lines, project="orm")
    assert copies == []
    copied, created = _rows("copy"), _rows("orm")
    assert copied["labelings"] and copied["items"]
    assert copied == created
    assert export_text("copy") == export_text("orm")
    assert User.objects.filter(username__startswith="prm800k-").count() == len(
        {r["labeler"].lower() for r in lines}
    )


def test_export_reads_only_what_it_writes_in_one_query(sample_lines, django_assert_num_queries):
    import_lines(sample_lines)
    project = Project.objects.get(name="p")
    out = io.StringIO()
    # no per-row queries for a deferred field: the select_related columns are all there
    with django_assert_num_queries(1):
        prm800k_export(project=project, out=out)
    assert out.getvalue() == "".join(line + "\n" for line in sample_lines)


def test_quality_control_records_become_gold_after_the_import(sample_records, tmp_path):
    from django.core.management import call_command

    from labeling.models import GoldLabel

    lines = []
    for i, labeler in enumerate(
        ("00000000-0000-4000-8000-0000000000c1", "00000000-0000-4000-8000-0000000000c2")
    ):
        qc = another_labeling(sample_records[4], labeler, i + 1)
        qc["is_quality_control_question"] = True
        lines.append(qc)
    lines.append(sample_records[5])
    path = tmp_path / "qc.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    out = io.StringIO()
    call_command("import_prm800k", str(path), "--project", "p", "--qc-gold", stdout=out)
    assert "1 quality-control records made gold." in out.getvalue()
    gold = GoldLabel.objects.get()
    assert str(gold.labeling.labeler.labeler_uuid) == lines[0]["labeler"]  # the earliest
    assert gold.solution.steps == sample_records[4]["question"]["pre_generated_steps"]
    out = io.StringIO()
    call_command("import_prm800k", str(path), "--project", "p", "--qc-gold", stdout=out)
    assert "Nothing new" in out.getvalue()
    assert "0 quality-control records made gold." in out.getvalue()
    assert GoldLabel.objects.count() == 1


def test_import_into_a_project_with_rows_made_elsewhere(sample_lines):
    project = Project.objects.create(name="p")
    other = Problem.objects.create(project=project, text="made by hand", text_hash="not-a-sha256")
    Solution.objects.create(project=project, problem=other, steps=["a"], steps_hash="hand")
    result = import_lines(sample_lines)
    assert result.created == len(sample_lines)
    assert export_text() == "".join(line + "\n" for line in sample_lines)
