"""labeling/hooks.py: labeling announces "labels arrived" and "solutions need grading" without
importing the loop (issue 17: labeling imported active_learning in 10 places), and the loop
subscribes in its AppConfig.ready()."""

import pytest

from active_learning import apps as loop_apps
from config.celery import app as celery_app
from labeling import hooks
from labeling.models import Generation, GenerationItem, Membership
from labeling.services.assignments import assignment_next
from labeling.services.drafts import draft_save
from labeling.services.solutions import solutions_import
from labeling.services.submission import labeling_submit
from tests.factories import ProjectFactory, SolutionFactory, UserFactory


@pytest.fixture
def heard():
    """Subscribe a recorder to both hooks for one test; yields {hook name: [project ids]}."""
    calls = {"labels_arrived": [], "solutions_need_grading": []}
    recorders = {
        hook: (lambda project_id, name=hook.name: calls[name].append(project_id))
        for hook in (hooks.labels_arrived, hooks.solutions_need_grading)
    }
    for hook, recorder in recorders.items():
        hook.subscribe(recorder)
    yield calls
    for hook, recorder in recorders.items():
        hook.unsubscribe(recorder)


def test_a_hook_calls_its_subscribers_in_order_once_each_and_lets_errors_through():
    hook, calls = hooks.Hook("test"), []
    first = hook.subscribe(lambda project_id: calls.append(("first", project_id)))
    hook.subscribe(lambda project_id, **details: calls.append(("second", project_id)))
    hook.subscribe(first)  # a ready() run twice: still once
    hook.fire(7)
    assert calls == [("first", 7), ("second", 7)]
    hook.unsubscribe(first)
    hook.fire(8)
    assert calls[2:] == [("second", 8)]

    def broken(project_id):
        raise RuntimeError("subscriber failed")

    hook.subscribe(broken)
    with pytest.raises(RuntimeError):
        hook.fire(9)
    hooks.Hook("nobody").fire(1)  # no subscriber: nothing happens
    hook.unsubscribe(broken)
    hook.fire(10, counted_down=True)  # details reach the subscribers as keywords
    assert calls[-1] == ("second", 10)
    assert hooks.KeyProvider("nobody")(1) is None  # nobody provides the key


def test_the_loop_subscribes_to_both_hooks_and_registers_the_grading_tasks():
    """Would catch the loop's ready() losing a subscription (submits would stop triggering
    retrains, imports would wait for the watchdog to be graded) or the grading tasks not being
    registered on a worker after their move out of labeling/tasks.py."""
    assert loop_apps._labels_arrived in hooks.labels_arrived.subscribers
    assert loop_apps._solutions_need_grading in hooks.solutions_need_grading.subscribers
    assert hooks.labels_countdown_key(7) == "loop-labels-remaining:7"  # the loop's own key
    for name in (
        "labeling.tasks.solutions_grade_task",
        "labeling.tasks.solutions_grade_chunk_task",
        "labeling.tasks.project_stats_refresh",
    ):
        assert name in celery_app.tasks


@pytest.mark.django_db
def test_a_submit_announces_labels_arrived_after_its_commit(
    heard, django_capture_on_commit_callbacks
):
    project = ProjectFactory(qc_rate=0.0)
    generation = Generation.objects.create(project=project, number=0)
    solution = SolutionFactory(problem__project=project)
    GenerationItem.objects.create(generation=generation, solution=solution, rank=0)
    user = UserFactory()
    Membership.objects.create(project=project, user=user)
    task = assignment_next(user=user, project=project).labeling
    draft_save(labeling=task, steps=[{"rating": 1, "flagged": False}] * len(task.solution.steps))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        labeling_submit(labeling=task, finish_reason="solution")
    assert heard["labels_arrived"] == []  # not before the commit
    for callback in callbacks:
        callback()
    assert heard["labels_arrived"] == [project.pk]
    assert heard["solutions_need_grading"] == []


@pytest.mark.django_db
def test_an_import_with_new_solutions_announces_they_need_grading(
    heard, write_jsonl, django_capture_on_commit_callbacks
):
    path = write_jsonl([{"problem": "1+1?", "steps": ["# Answer\n\n2"], "reference_answer": "2"}])
    with django_capture_on_commit_callbacks(execute=True):
        result = solutions_import(path=str(path), project_name="p")
    assert result.created == 1
    assert len(heard["solutions_need_grading"]) == 1
    with django_capture_on_commit_callbacks(execute=True):  # nothing new: no announcement
        solutions_import(path=str(path), project_name="p")
    assert len(heard["solutions_need_grading"]) == 1
