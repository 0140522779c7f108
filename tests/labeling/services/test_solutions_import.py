"""Candidate-solution and problem imports."""

import json

import pytest

from labeling.errors import ApplicationError
from labeling.models import Generation, GenerationItem, Problem, Solution
from labeling.services.problems import problems_import
from labeling.services.solutions import solutions_import
from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.django_db


def test_processbench_solutions_join_math_problems_by_text(tmp_path):
    processbench = json.loads((SHARED_DATA / "processbench_math.json").read_text())[:40]
    math_test = SHARED_DATA / "math_test.parquet"
    problems_import(path=str(math_test), project_name="demo")
    pool = tmp_path / "pool.json"
    pool.write_text(json.dumps(processbench))
    result = solutions_import(path=str(pool), project_name="demo")
    assert result.created == 40
    assert result.problems_created == 0  # every ProcessBench problem is a MATH test problem
    assert result.generation == 0
    first = Solution.objects.get(external_id=processbench[0]["id"])
    assert first.steps == processbench[0]["steps"]
    assert first.is_correct is processbench[0]["final_answer_correct"]
    assert first.metadata == {"processbench_label": processbench[0]["label"]}
    assert first.generator == processbench[0]["generator"]
    assert first.problem.reference_answer  # joined from MATH
    assert first.final_answer == "9"  # the last \boxed{} of its last step
    ranks = GenerationItem.objects.filter(generation__number=0).order_by("rank")
    assert [i.solution.external_id for i in ranks[:3]] == [p["id"] for p in processbench[:3]]


def test_math_parquet_problems_lose_the_prompt_suffix():
    result = problems_import(path=str(SHARED_DATA / "math_test.parquet"), project_name="m")
    assert result.created == 5000
    problem = Problem.objects.get(external_id="test/0")
    assert not problem.text.endswith("within \\boxed{}.")
    assert problem.text.startswith("How many vertical asymptotes")
    assert problem.reference_answer == "2"
    assert problem.level == 3 and problem.subject == "Algebra"
    assert (
        problems_import(path=str(SHARED_DATA / "math_test.parquet"), project_name="m").created == 0
    )


def test_math500_jsonl_problems():
    result = problems_import(path=str(SHARED_DATA / "math500_test.jsonl"), project_name="m")
    assert result.created == 500
    problem = Problem.objects.get(external_id="test/precalculus/807.json")
    assert problem.reference_answer == "\\left( 3, \\frac{\\pi}{2} \\right)"


def test_jsonl_pool_creates_problems_and_reads_answers(write_jsonl):
    path = write_jsonl(
        [
            {"problem": "1+1?", "steps": ["One plus one.", "# Answer\n\n2"], "generator": "g"},
            {"problem": "1+1?", "steps": ["It is $\\boxed{3}$."], "reference_answer": "2"},
            {"problem": "2+2?", "steps": ["Four."], "answer": "4", "reference_answer": "4"},
        ]
    )
    result = solutions_import(path=str(path), project_name="p", generation=5)
    assert (result.created, result.problems_created, result.generation) == (3, 2, 5)
    answers = sorted(Solution.objects.values_list("final_answer", flat=True))
    assert answers == ["2", "3", "4"]
    assert Problem.objects.get(text="2+2?").reference_answer == "4"


def test_new_solutions_are_sent_to_grading_after_the_import_commits(
    write_jsonl, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(
        "labeling.tasks.solutions_grade_task.apply_async",
        lambda args, kwargs=None, **options: sent.append(args),
    )
    path = write_jsonl([{"problem": "1+1?", "steps": ["# Answer\n\n2"], "reference_answer": "2"}])
    with django_capture_on_commit_callbacks(execute=True):
        solutions_import(path=str(path), project_name="p")
    assert sent == [(Solution.objects.get().project_id,)]
    with django_capture_on_commit_callbacks(execute=True):  # nothing new: nothing to grade
        solutions_import(path=str(path), project_name="p")
    assert len(sent) == 1


def test_reimporting_a_pool_adds_nothing_and_makes_no_empty_generation(write_jsonl):
    path = write_jsonl([{"problem": "1+1?", "steps": ["2"]}])
    solutions_import(path=str(path), project_name="p")
    result = solutions_import(path=str(path), project_name="p")
    assert (result.created, result.already_present) == (0, 1)
    assert "Nothing new" in result.summary()
    assert Generation.objects.count() == 1


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"steps": ["a"]}, "input.jsonl:2: problem: missing"),
        # a text is split into steps (issue 8); anything else is refused
        ({"problem": "x", "steps": 5}, "input.jsonl:2: steps: must be a list of strings or a text"),
        ({"problem": "x", "steps": " \n\n "}, "input.jsonl:2: steps: empty text"),
        ({"problem": "x", "steps": ["a", 3]}, "input.jsonl:2: steps[1]: must be a string"),
        ({"problem": "x", "steps": []}, "input.jsonl:2: steps: empty"),
        (
            {"problem": "x", "steps": ["a"], "final_answer_correct": True, "label": 4},
            "input.jsonl:2: label: must be -1 or a step index below 1",
        ),
    ],
)
def test_bad_pool_records_import_nothing(write_jsonl, record, message):
    path = write_jsonl([{"problem": "ok", "steps": ["fine"]}, record])
    with pytest.raises(ApplicationError) as caught:
        solutions_import(path=str(path), project_name="p")
    assert message in str(caught.value)
    assert not Solution.objects.exists() and not Problem.objects.exists()


def test_a_json_array_error_names_the_item(tmp_path):
    path = tmp_path / "pool.json"
    path.write_text(json.dumps([{"problem": "a", "steps": ["x"]}, {"problem": "b"}]))
    with pytest.raises(ApplicationError, match=r"pool.json:item 1: steps: missing"):
        solutions_import(path=str(path), project_name="p")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ApplicationError, match="no such file"):
        solutions_import(path=str(tmp_path / "nope.json"), project_name="p")
