"""Grading candidate solutions as a job: on demand (task, command, button, API) and for new
imports via the watchdog; a problem without a reference answer never makes a wrong answer."""

import threading

import pytest
from django.core.management import call_command

from active_learning.grading import solutions_grade, ungraded
from active_learning.pipeline import grading_catch_up
from labeling.errors import ApplicationError
from labeling.tasks import solutions_grade_task
from tests.factories import ProblemFactory, ProjectFactory, SolutionFactory

pytestmark = pytest.mark.django_db


def pool():
    project = ProjectFactory()
    half = ProblemFactory(project=project, reference_answer="\\frac12")
    pair = ProblemFactory(project=project, reference_answer="(3,5)")
    unknown = ProblemFactory(project=project, reference_answer=None)
    blank = ProblemFactory(project=project, reference_answer="  ")
    s = {
        "half_ok": SolutionFactory(problem=half, final_answer="0.5"),
        "half_wrong": SolutionFactory(problem=half, final_answer="0.25"),
        "pair_swapped": SolutionFactory(problem=pair, final_answer="(5,3)"),
        "pair_ok": SolutionFactory(problem=pair, final_answer="(3, 5)"),
        "no_answer": SolutionFactory(problem=pair, final_answer=None),
        "no_reference": SolutionFactory(problem=unknown, final_answer="7"),
        "blank_reference": SolutionFactory(problem=blank, final_answer="7"),
    }
    return project, s


def test_grades_final_answers_and_never_counts_unknowns_as_wrong():
    project, s = pool()
    counts = solutions_grade(project=project)
    for solution in s.values():
        solution.refresh_from_db()
    assert s["half_ok"].is_correct is True and s["half_wrong"].is_correct is False
    assert s["pair_swapped"].is_correct is False and s["pair_ok"].is_correct is True
    for name in ("no_answer", "no_reference", "blank_reference"):
        assert s[name].is_correct is None and s[name].graded_at is None, name
    assert counts == {"correct": 2, "wrong": 2, "no_reference": 2, "no_answer": 1, "errors": 0}
    assert solutions_grade(project=project)["correct"] == 0  # graded ones are skipped


def test_regrade_after_a_reference_answer_is_corrected():
    project, s = pool()
    solutions_grade(project=project)
    s["half_wrong"].problem.__class__.objects.filter(pk=s["half_wrong"].problem_id).update(
        reference_answer="1/4"
    )
    solutions_grade(project=project, regrade=True)
    s["half_wrong"].refresh_from_db()
    s["half_ok"].refresh_from_db()
    assert s["half_wrong"].is_correct is True and s["half_ok"].is_correct is False


def test_the_task_and_the_command_grade(capsys):
    project, _ = pool()
    assert solutions_grade_task(project.pk)["wrong"] == 2
    other, _ = pool()
    call_command("grade_solutions", "--project", other.name)
    assert "2 correct, 2 wrong" in capsys.readouterr().out
    assert not ungraded(other).exists()


def test_an_unknown_project_is_a_clear_command_error():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No project named 'nope'"):
        call_command("grade_solutions", "--project", "nope")


def test_grading_refuses_to_run_outside_the_main_thread():
    project, _ = pool()
    errors = []

    def work():
        try:
            solutions_grade(project=project)
        except ApplicationError as exc:
            errors.append(str(exc))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors and "main thread" in errors[0]


def test_the_watchdog_queues_grading_for_new_imports_once(django_capture_on_commit_callbacks):
    project, _ = pool()
    graded = ProjectFactory()
    SolutionFactory(problem__project=graded, is_correct=True)
    assert grading_catch_up() == [project.pk]
    assert grading_catch_up() == []  # one grading task per project in flight
