"""Grading candidate solutions as a job: on demand (task, command, button, API) and for new
imports via the watchdog; only solutions that need it, once (issue 15: "grading never marks
solutions without a reference answer as done, so every pass rewrites all of them again"), in
chunks that run in parallel on their own queue (issue 15: imports waited 392 s behind grading
jobs); a problem without a reference answer never makes a wrong answer."""

import subprocess
import sys
import threading
import time
import uuid

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from active_learning import grading
from active_learning.grading import (
    grading_catch_up,
    grading_dispatch,
    solutions_grade,
    solutions_grade_chunk_task,
    solutions_grade_range,
    solutions_grade_task,
    ungraded,
)
from config.celery import app
from labeling.errors import ApplicationError
from labeling.grading import grade_pair
from labeling.models import Grading, Solution
from tests.conftest import ROOT
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


def states(project) -> dict:
    return dict(Solution.objects.filter(project=project).values_list("pk", "grading"))


def test_grades_final_answers_and_never_counts_unknowns_as_wrong():
    project, s = pool()
    counts = solutions_grade(project=project)
    for solution in s.values():
        solution.refresh_from_db()
    assert s["half_ok"].is_correct is True and s["half_wrong"].is_correct is False
    assert s["pair_swapped"].is_correct is False and s["pair_ok"].is_correct is True
    for name in ("no_answer", "no_reference", "blank_reference"):
        assert s[name].is_correct is None and s[name].graded_at is None, name
    assert s["no_answer"].grading == Grading.NO_ANSWER
    assert s["no_reference"].grading == s["blank_reference"].grading == Grading.NO_REFERENCE
    assert counts == {"correct": 2, "wrong": 2, "no_reference": 2, "no_answer": 1, "errors": 0}


def test_a_second_pass_reads_and_writes_nothing_for_ungradable_solutions():
    """Issue 15: solutions without a reference answer were rewritten by every pass. Now they
    are marked once; a second pass finds nothing pending (one query) and writes nothing."""
    project, _ = pool()
    solutions_grade(project=project)
    before = dict(Solution.objects.filter(project=project).values_list("pk", "updated_at"))
    with CaptureQueriesContext(connection) as queries:
        counts = solutions_grade(project=project)
    assert sum(counts.values()) == 0
    assert not any(q["sql"].lstrip().upper().startswith("UPDATE") for q in queries.captured_queries)
    assert len(queries.captured_queries) == 1  # the pending ids, from the partial index
    after = dict(Solution.objects.filter(project=project).values_list("pk", "updated_at"))
    assert after == before
    assert not ungraded(project).exists()


def test_each_distinct_answer_is_graded_once():
    """A pool repeats answers (best-of-N): 60 solutions, 3 distinct answers, 3 gradings."""
    project = ProjectFactory()
    problem = ProblemFactory(project=project, reference_answer="12")
    for i in range(60):
        SolutionFactory(problem=problem, final_answer=["12", "*12*", "13"][i % 3])
    graded = []

    def count(pairs):
        graded.extend(pairs)
        return [grade_pair(p) for p in pairs]

    counts = solutions_grade_range(
        project_id=project.pk, first_id=0, last_id=2**62, grade_pairs=count
    )
    assert sorted(graded) == [("*12*", "12"), ("12", "12"), ("13", "12")]
    assert (counts["correct"], counts["wrong"]) == (40, 20)


def test_correctness_from_the_source_is_kept_and_marked_once():
    project = ProjectFactory()
    given = SolutionFactory(problem__project=project, final_answer="9", is_correct=False)
    assert solutions_grade(project=project)["given"] == 1
    given.refresh_from_db()
    assert (given.grading, given.is_correct) == (Grading.GIVEN, False)
    assert "given" not in solutions_grade(project=project)


def test_regrade_after_a_reference_answer_is_corrected():
    project, s = pool()
    solutions_grade(project=project)
    s["half_wrong"].problem.__class__.objects.filter(pk=s["half_wrong"].problem_id).update(
        reference_answer="1/4"
    )
    s["no_reference"].problem.__class__.objects.filter(pk=s["no_reference"].problem_id).update(
        reference_answer="7"
    )
    solutions_grade(project=project, regrade=True)
    for solution in s.values():
        solution.refresh_from_db()
    assert s["half_wrong"].is_correct is True and s["half_ok"].is_correct is False
    assert s["no_reference"].is_correct is True  # no longer without a reference


def test_a_grader_failure_is_unknown_and_not_retried_every_pass(monkeypatch):
    project = ProjectFactory()
    solution = SolutionFactory(problem__project=project, final_answer="boom")

    def explode(given, reference):
        raise TimeoutError("math-verify timed out")

    monkeypatch.setattr("labeling.grading.grade_answer", explode)
    assert solutions_grade(project=project)["errors"] == 1
    solution.refresh_from_db()
    assert (solution.grading, solution.is_correct) == (Grading.FAILED, None)
    assert solutions_grade(project=project)["errors"] == 0


def test_grading_in_a_pool_of_processes_gives_the_same_grades():
    """The command's parallel path: the grading runs in forked processes (each in its main
    thread, where math-verify's timeouts work); the parent writes."""
    project, s = pool()
    other, t = pool()
    assert solutions_grade(project=project, processes=2) == solutions_grade(project=other)
    assert [s[k].__class__.objects.get(pk=s[k].pk).is_correct for k in s] == [
        t[k].__class__.objects.get(pk=t[k].pk).is_correct for k in t
    ]


# --- the queue ----------------------------------------------------------------------------------


def test_grading_tasks_have_their_own_queue_and_imports_and_exports_do_not():
    """Issue 15: 392 s of a 590 s import went to import jobs waiting behind grading jobs on
    the one `default` queue."""
    route = app.amqp.router.route
    for name in (
        "labeling.tasks.solutions_grade_task",
        "labeling.tasks.solutions_grade_chunk_task",
    ):
        assert route({}, name)["queue"].name == "grading"
    for name in ("labeling.jobs.import_job_run", "labeling.jobs.export_job_run"):
        assert route({}, name)["queue"].name == "default"


def test_a_pass_is_sent_as_chunks_that_count_themselves_off(monkeypatch):
    project = ProjectFactory()
    problem = ProblemFactory(project=project, reference_answer="1")
    for i in range(7):
        SolutionFactory(problem=problem, final_answer=str(i))
    monkeypatch.setattr(grading, "GRADE_CHUNK", 3)
    sent = []
    monkeypatch.setattr(
        solutions_grade_chunk_task, "apply_async", lambda args, **kw: sent.append(args)
    )
    assert solutions_grade_task(project.pk) == 3
    assert [(a, b - a) for _, a, b in sent] == [(sent[0][1], 2), (sent[1][1], 2), (sent[2][1], 0)]
    assert cache.get(f"grading-pending:{project.pk}") == 3
    assert solutions_grade_task(project.pk) == 0  # in flight: nothing sent twice
    for args in sent:
        solutions_grade_chunk_task(*args)
        solutions_grade_chunk_task(*args)  # run twice (a redelivery): changes nothing
    assert cache.get(f"grading-pending:{project.pk}") is None
    assert Solution.objects.filter(project=project, is_correct=True).count() == 1
    assert not ungraded(project).exists()


def test_the_command_grades_in_processes_and_the_task_dispatches(capsys):
    project, _ = pool()
    call_command("grade_solutions", "--project", project.name, "--processes", "2")
    assert "2 correct, 2 wrong, 2 without a reference answer, 1 without" in (
        capsys.readouterr().out
    )
    assert not ungraded(project).exists()
    other, _ = pool()
    assert grading_dispatch(project=other) == 1


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
    SolutionFactory(problem__project=graded, is_correct=True, grading=Grading.GIVEN)
    assert grading_catch_up() == [project.pk]
    assert grading_catch_up() == []  # one grading pass per project in flight


def test_a_grading_worker_grades_an_import_sent_from_another_process(cli_database, tmp_path):
    """A real `celery worker -Q grading` process (the embedded filesystem broker, private to
    this test) grades what an import command queued: the import's on-commit dispatch, then the
    chunk tasks."""
    env = {**cli_database, "CELERY_BROKER_DIR": str(tmp_path / "broker")}
    env.pop("REDIS_URL", None)
    for folder in ("queue", "processed"):
        (tmp_path / "broker" / folder).mkdir(parents=True)
    pool_file = tmp_path / "pool.jsonl"
    pool_file.write_text(
        '{"problem": "1+1?", "reference_answer": "2", "steps": ["# Answer\\n\\n2"]}\n'
        '{"problem": "1+1?", "steps": ["# Answer\\n\\n**3**"]}\n'
        '{"problem": "2+2?", "steps": ["# Answer\\n\\n4"]}\n'
    )
    project = f"grading-{uuid.uuid4().hex[:8]}"
    run = subprocess.run(
        [sys.executable, "manage.py", "import_solutions", pool_file, "--project", project],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "grading",
         "--concurrency", "2", "--loglevel", "WARNING", "-n", f"grading-{project}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    code = (
        "from labeling.models import Solution\n"
        f"print(sorted(Solution.objects.filter(project__name={project!r})"
        ".values_list('grading', 'is_correct')))"
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and worker.poll() is None:
            out = subprocess.run(
                [sys.executable, "manage.py", "shell", "-v", "0", "-c", code],
                cwd=ROOT, env=env, capture_output=True, text=True,
            ).stdout.strip()  # fmt: skip
            if "pending" not in out:
                break
            time.sleep(1)
    finally:
        worker.terminate()
        log = worker.communicate(timeout=30)[0]
    assert out == "[('graded', False), ('graded', True), ('no_reference', None)]", log
