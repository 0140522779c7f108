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
        "active_learning.grading.solutions_grade_task.apply_async",
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


# --- the bulk path (issue 15) -------------------------------------------------------------------


def _pool(write_jsonl, start: int, count: int, name: str):
    return write_jsonl(
        [
            {
                "problem": f"Problem {i // 4}?",
                "reference_answer": str(i // 4),
                "steps": [f"Step of {i}.", f"# Answer\n\n{i % 3}"],
                "metadata": {"sample": i},
            }
            for i in range(start, start + count)
        ],
        name=name,
    )


def test_an_import_costs_the_same_statements_whatever_the_project_holds(write_jsonl):
    """Issue 15: each import reloaded every problem and solution of the project (46% of its
    time; 5,000-task batches slowed from 4 s to 8-18 s). The statements of an import do not
    depend on what the project holds: none reads the project's rows into memory."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    solutions_import(path=str(_pool(write_jsonl, 0, 8, "a.jsonl")), project_name="p")
    with CaptureQueriesContext(connection) as small:
        solutions_import(path=str(_pool(write_jsonl, 1000, 8, "b.jsonl")), project_name="p")
    solutions_import(path=str(_pool(write_jsonl, 2000, 400, "c.jsonl")), project_name="p")
    with CaptureQueriesContext(connection) as large:
        solutions_import(path=str(_pool(write_jsonl, 3000, 8, "d.jsonl")), project_name="p")
    assert len(large.captured_queries) == len(small.captured_queries)
    assert not any(
        'FROM "labeling_solution"' in q["sql"] and "SELECT" in q["sql"][:20]
        for q in large.captured_queries
    )
    assert Solution.objects.filter(project__name="p").count() == 424


def test_imported_tasks_are_servable_when_the_import_commits(write_jsonl):
    from labeling.models import Membership, Project, Role
    from labeling.services.assignments import assignment_next
    from tests.factories import UserFactory

    result = solutions_import(path=str(_pool(write_jsonl, 0, 40, "a.jsonl")), project_name="p")
    project = Project.objects.get(name="p")
    annotator = UserFactory(role=Role.ANNOTATOR)
    Membership.objects.create(project=project, user=annotator)
    task = assignment_next(user=annotator, project_id=project.pk).labeling
    assert task is not None and task.generation.number == result.generation
    first = GenerationItem.objects.filter(generation__number=0).order_by("rank").first()
    assert task.solution_id == first.solution_id  # served in file order
    assert first.solution.metadata == {"sample": 0}


def test_planner_statistics_are_refreshed_after_the_bulk_write(write_jsonl):
    """Issue 15: without statistics the next-task query scanned every open task; the solutions
    import never analyzed what it wrote."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        solutions_import(path=str(_pool(write_jsonl, 0, 8, "a.jsonl")), project_name="p")
    analyzed = " ".join(q["sql"] for q in queries.captured_queries if "ANALYZE" in q["sql"])
    for table in ("labeling_solution", "labeling_generationitem", "labeling_problem"):
        assert table in analyzed


def test_the_first_record_of_a_solution_defines_it_and_ranks_follow_the_file(write_jsonl):
    path = write_jsonl(
        [
            {"problem": "Q1?", "steps": ["a"], "generator": "first"},
            {"problem": "Q2?", "steps": ["b"]},
            {"problem": "Q1?", "steps": ["a"], "generator": "second"},  # a duplicate
            {"problem": "Q1?", "steps": ["c"], "reference_answer": "7"},
        ]
    )
    result = solutions_import(path=str(path), project_name="p")
    assert (result.created, result.already_present, result.problems_created) == (3, 1, 2)
    assert Solution.objects.get(steps=["a"]).generator == "first"
    assert Problem.objects.get(text="Q1?").reference_answer == "7"  # the first one given
    ranked = GenerationItem.objects.order_by("rank").values_list("solution__steps", "rank")
    assert list(ranked) == [(["a"], 1), (["b"], 2), (["c"], 3)]
    again = solutions_import(path=str(path), project_name="p", generation=0)
    assert (again.created, again.already_present) == (0, 4)
    assert GenerationItem.objects.count() == 3  # nothing added twice to the generation


def test_grading_state_is_set_at_import(write_jsonl):
    from labeling.models import Grading

    path = write_jsonl(
        [
            {"problem": "A?", "reference_answer": "1", "steps": ["# Answer\n\n1"]},
            {"problem": "B?", "steps": ["# Answer\n\n1"]},
            {"problem": "A?", "steps": ["no answer here"]},
            {"problem": "A?", "steps": ["x"], "answer": "2", "is_correct": False},
        ]
    )
    solutions_import(path=str(path), project_name="p")
    by_rank = GenerationItem.objects.order_by("rank").values_list("solution__grading", flat=True)
    assert list(by_rank) == [
        Grading.PENDING,
        Grading.NO_REFERENCE,
        Grading.NO_ANSWER,
        Grading.GIVEN,
    ]


def test_problems_referenced_by_id_and_external_id_match_in_one_statement(write_jsonl):
    first = solutions_import(
        path=str(write_jsonl([{"problem": "Known?", "steps": ["a"]}], name="a.jsonl")),
        project_name="p",
    )
    assert first.created == 1
    problem = Problem.objects.get(text="Known?")
    Problem.objects.filter(pk=problem.pk).update(external_id="test/1.json")
    path = write_jsonl(
        [
            {"problem_id": problem.pk, "steps": ["b"]},
            {"problem_external_id": "test/1.json", "steps": ["c"]},
            {"problem_external_id": "nope", "steps": ["d"]},
            {"problem_id": 10**12, "steps": ["e"]},
        ],
        name="b.jsonl",
    )
    with pytest.raises(ApplicationError) as caught:
        solutions_import(path=str(path), project_name="p")
    assert [d.split("b.jsonl")[1] for d in caught.value.details] == [
        ":3: problem_external_id: no problem 'nope' in this project",
        ":4: problem_id: no problem 1000000000000 in this project",
    ]
    ok = write_jsonl(
        [
            {"problem_id": problem.pk, "steps": ["b"]},
            {"problem_external_id": "test/1.json", "steps": ["c"]},
        ],
        name="c.jsonl",
    )
    assert solutions_import(path=str(ok), project_name="p").created == 2
    assert Solution.objects.filter(problem=problem).count() == 3
