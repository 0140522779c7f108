"""PRM800K import and export through the services, on whichever database DATABASE_URL names."""

import copy
import io
import json

import pytest
from django.db import connection

from labeling.errors import ApplicationError
from labeling.models import (
    Generation,
    GenerationItem,
    Labeling,
    Problem,
    Project,
    Solution,
    StepRating,
    User,
)
from labeling.services.prm800k import prm800k_import
from labeling.services.prm800k_export import prm800k_export

pytestmark = pytest.mark.django_db


def import_lines(lines, project="p", name="f.jsonl"):
    data = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    return prm800k_import(stream=io.BytesIO(data.encode()), name=name, project_name=project)


def export_text(project="p", generation=None) -> str:
    out = io.StringIO()
    prm800k_export(project=Project.objects.get(name=project), out=out, generation=generation)
    return out.getvalue()


def test_every_shared_record_round_trips_byte_for_byte(sample_lines):
    result = import_lines(sample_lines)
    assert result.created == len(sample_lines)
    assert export_text() == "".join(line + "\n" for line in sample_lines)


def test_round_trip_uses_the_stored_fields_not_a_copy_of_the_line(sample_lines):
    import_lines(sample_lines)
    # Every real record fits the canonical layout, so no source line had to be kept ...
    assert not Labeling.objects.exclude(source_line=None).exists()
    # ... and what is exported comes from the fields: change one and the export changes.
    labeling = Labeling.objects.order_by("id").first()
    labeling.total_time_ms = 42
    labeling.save()
    assert '"total_time": 42,' in export_text().splitlines()[0]


def test_import_stores_structure(sample_records, sample_lines):
    import_lines(sample_lines)
    phase2 = Labeling.objects.filter(generation__number=6)
    assert phase2.count() == 9
    labeling = phase2.get(source_hash__isnull=False, total_time_ms=164458)
    assert str(labeling.labeler.labeler_uuid) == "cc88bf76-df08-4041-be67-3464279cb3b1"
    assert labeling.finish_reason == "found_error"
    assert labeling.submitted_at.isoformat() == "2022-11-22T16:51:29.980606+00:00"
    assert labeling.verifier_score == 0.0011546110201324836
    assert len(labeling.solution.steps) == 13
    assert labeling.solution.final_answer == "7200"
    assert (
        labeling.solution.problem.reference_answer
        == sample_records[3]["question"]["ground_truth_answer"]
    )
    ratings = StepRating.objects.filter(labeling=labeling, completion_index=0)
    expected = [step["completions"][0]["rating"] for step in sample_records[3]["label"]["steps"]]
    assert list(ratings.order_by("step_index").values_list("rating", flat=True)) == expected
    assert expected[-1] == -1
    # phase 1 record: no generation, solution is the labeled trajectory
    phase1 = Labeling.objects.filter(generation=None).order_by("id").first()
    assert phase1.solution.source == "prm800k-phase1"
    assert phase1.solution.final_answer == "29"
    assert GenerationItem.objects.filter(generation__number=6).count() == 9


def test_labelings_of_one_pre_generated_solution_attach_to_one_solution(sample_records):
    first = sample_records[3]
    second = copy.deepcopy(first)
    second["labeler"] = "00000000-0000-4000-8000-000000000001"
    second["timestamp"] = "2022-11-23T10:00:00.000001"
    second["label"]["steps"][0]["completions"][0]["rating"] = 0
    import_lines([first, second])
    assert Solution.objects.count() == 1
    solution = Solution.objects.get()
    assert solution.labelings.count() == 2
    assert solution.labelings.values("labeler").distinct().count() == 2
    # the generation lists the solution once
    assert GenerationItem.objects.filter(solution=solution).count() == 1


def test_importing_the_same_file_twice_stores_nothing_new(sample_lines):
    import_lines(sample_lines)
    counts = [m.objects.count() for m in (Labeling, Solution, Problem, StepRating, User)]
    result = import_lines(sample_lines)
    assert result.created == 0
    assert result.already_present == len(sample_lines)
    assert "Nothing new" in result.summary()
    assert [m.objects.count() for m in (Labeling, Solution, Problem, StepRating, User)] == counts
    assert export_text().count("\n") == len(sample_lines)


def test_a_second_file_with_new_and_old_records_adds_only_the_new(sample_lines):
    import_lines(sample_lines[:5])
    result = import_lines(sample_lines[3:])
    assert (result.created, result.already_present) == (len(sample_lines) - 5, 2)
    assert export_text() == "".join(line + "\n" for line in sample_lines)


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{not json", "f.jsonl:3: invalid JSON"),
        ('{"labeler": "e90a38f3-3135-4465-87af-3e6322e3d772"}', "f.jsonl:3: timestamp: missing"),
        ("[1, 2]", "f.jsonl:3: record: must be an object"),
    ],
)
def test_a_malformed_line_imports_nothing_and_says_where(sample_lines, bad_line, message):
    with pytest.raises(ApplicationError) as caught:
        import_lines([sample_lines[0], sample_lines[1], bad_line, sample_lines[3]])
    assert message in str(caught.value)
    assert "nothing was imported" in str(caught.value)
    assert not Labeling.objects.exists()
    assert not Problem.objects.exists()
    assert not Project.objects.exists()
    assert not User.objects.exists()


def test_a_bad_rating_after_many_good_chunks_rolls_back_everything(sample_records, monkeypatch):
    monkeypatch.setattr("labeling.services.prm800k.CHUNK_SIZE", 2)  # several chunks get written
    records = []
    for i in range(9):
        record = copy.deepcopy(sample_records[3])
        record["timestamp"] = f"2022-11-22T16:51:29.{i:06d}"
        records.append(record)
    records[7]["label"]["steps"][2]["completions"][0]["rating"] = 2
    records[8]["label"]["finish_reason"] = "finished"
    with pytest.raises(ApplicationError) as caught:
        import_lines(records)
    text = str(caught.value)
    assert (
        "f.jsonl:8: label.steps[2].completions[0].rating: must be -1, 0, 1 or null, got 2" in text
    )
    assert "f.jsonl:9: label.finish_reason" in text  # every bad line is reported
    assert not Labeling.objects.exists() and not StepRating.objects.exists()


def test_wrong_type_is_reported_with_the_field(sample_records):
    record = copy.deepcopy(sample_records[4])
    record["label"]["total_time"] = "513374"
    with pytest.raises(ApplicationError, match=r"f.jsonl:1: label.total_time: must be"):
        import_lines([record])


def test_an_empty_file_imports_nothing_and_says_so():
    result = prm800k_import(stream=io.BytesIO(b""), name="empty.jsonl", project_name="p")
    assert result.lines == 0 and result.created == 0
    assert result.summary() == "The file is empty: nothing imported."
    assert not Labeling.objects.exists()


def test_export_filters_by_generation(sample_lines):
    import_lines(sample_lines)
    text = export_text(generation=6)
    assert text.count("\n") == 9
    assert all(json.loads(line)["generation"] == 6 for line in text.splitlines())
    assert export_text(generation=3) == ""


def test_records_with_an_unusual_layout_still_round_trip(sample_records):
    odd = []
    extra_key = copy.deepcopy(sample_records[5])
    extra_key["label"]["corrected"] = True  # a key the canonical layout does not know
    odd.append(json.dumps(extra_key))
    int_score = copy.deepcopy(sample_records[6])
    int_score["question"]["pre_generated_verifier_score"] = 1  # an int where floats are usual
    odd.append(json.dumps(int_score))
    reordered = copy.deepcopy(sample_records[7])
    odd.append(json.dumps(reordered, sort_keys=True))  # keys in another order
    zoned = copy.deepcopy(sample_records[8])
    zoned["timestamp"] = "2022-11-17T14:07:11+00:00"
    odd.append(json.dumps(zoned))
    result = import_lines(odd)
    assert result.kept_verbatim == 4
    assert export_text() == "".join(line + "\n" for line in odd)


def test_imported_labelers_are_inactive_identities(sample_lines):
    import_lines(sample_lines)
    user = User.objects.get(labeler_uuid="e90a38f3-3135-4465-87af-3e6322e3d772")
    assert not user.is_active
    assert not user.has_usable_password()


def test_screening_and_quality_control_records_keep_their_markers(sample_records):
    screening = copy.deepcopy(sample_records[3])
    screening["generation"] = -1
    screening["is_initial_screening_question"] = True
    qc = copy.deepcopy(sample_records[4])
    qc["is_quality_control_question"] = True
    lines = [json.dumps(screening), json.dumps(qc)]
    import_lines(lines)
    assert Generation.objects.filter(number=-1).exists()
    assert Labeling.objects.filter(is_screening=True, generation__number=-1).count() == 1
    assert Labeling.objects.filter(is_quality_control=True).count() == 1
    assert export_text() == "".join(line + "\n" for line in lines)


@pytest.mark.postgres
def test_postgres_stores_steps_as_jsonb_and_still_exports_release_key_order(sample_lines):
    import_lines(sample_lines)
    with connection.cursor() as cursor:
        cursor.execute("select pg_typeof(steps)::text from labeling_labeling limit 1")
        assert cursor.fetchone()[0] == "jsonb"
    assert export_text() == "".join(line + "\n" for line in sample_lines)


def test_an_adjudicated_export_reimports_and_other_lines_stay_byte_exact(sample_lines):
    """One solution adjudicated: only its lines gain the `adjudication` extension key (the
    rest byte for byte the release lines); the exported file imports into another project,
    whose ruling the key becomes (training there uses it), and exports byte for byte again;
    a second import of it adds nothing. Catches an import that refuses the key, one that
    drops it (the export of the new project lost the ruling), and a changed line of an
    unadjudicated solution."""
    from active_learning.services.training import adjudicated_examples
    from labeling.models import Adjudication, Labeling

    import_lines(sample_lines)
    first = Labeling.objects.filter(project__name="p").order_by("id").first()
    solution = first.solution
    Adjudication.objects.create(project=first.project, solution=solution, first_error=0)
    exported = export_text().splitlines()
    ids = list(
        Labeling.objects.filter(project__name="p")
        .order_by("id")
        .values_list("solution_id", flat=True)
    )
    for line, original, solution_id in zip(exported, sample_lines, ids, strict=True):
        if solution_id == solution.pk:
            assert line == original[:-1] + ', "adjudication": {"first_error": 0}}'
        else:
            assert line == original
    result = import_lines(exported, project="q", name="again.jsonl")
    assert result.created == len(exported) and result.adjudications_created == 1
    [ruling] = Adjudication.objects.filter(project__name="q")
    assert (ruling.first_error, ruling.adjudicated_by, ruling.note) == (
        0,
        None,
        "imported from again.jsonl",
    )
    assert ruling.solution.steps == solution.steps
    assert list(adjudicated_examples(ruling.project)) == [ruling.solution_id]
    assert export_text("q").splitlines() == exported
    again = import_lines(exported, project="q", name="again.jsonl")
    assert (again.created, again.already_present) == (0, len(exported))
    assert Adjudication.objects.filter(project__name="q").count() == 1
