"""The assignment queue: next-task rule, overlap, leases, screening and quality control."""

import random
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from labeling.errors import Conflict
from labeling.models import (
    Generation,
    GenerationItem,
    GoldLabel,
    Labeling,
    LabelingStatus,
    Membership,
    ScreeningStatus,
)
from labeling.services.assignments import assignment_next, assignment_open, lease_release
from labeling.services.drafts import draft_save
from labeling.services.projects import project_update
from labeling.services.submission import labeling_submit
from tests.factories import (
    LabelingFactory,
    ProjectFactory,
    SolutionFactory,
    UserFactory,
)

STEPS = ["One.", "Two.", "Three.\n\n# Answer\n\n3"]


def make_project(solutions=5, overlap=1, qc_rate=0.0, **settings):
    project = ProjectFactory(overlap=overlap, qc_rate=qc_rate, **settings)
    generation = Generation.objects.create(project=project, number=0)
    for rank in range(1, solutions + 1):
        solution = SolutionFactory(problem__project=project, steps=[f"S{rank}.", *STEPS])
        GenerationItem.objects.create(generation=generation, solution=solution, rank=rank)
    return project


def annotator(project, **fields):
    user = UserFactory(**fields)
    Membership.objects.create(project=project, user=user)
    return user


def label_all_positive(labeling):
    count = len(labeling.solution.steps)
    draft_save(labeling=labeling, steps=[{"rating": 1, "flagged": False}] * count)
    return labeling_submit(labeling=labeling, finish_reason="solution")


def label_with(labeling, ratings):
    draft_save(labeling=labeling, steps=[{"rating": r, "flagged": False} for r in ratings])
    reason = "found_error" if ratings and ratings[-1] == -1 else "solution"
    return labeling_submit(labeling=labeling, finish_reason=reason)


def gold_for(solution, ratings):
    gold = LabelingFactory(solution=solution, labeler=UserFactory(role="lead"))
    gold.steps = [
        {
            "completions": [{"text": t, "rating": r, "flagged": False}],
            "human_completion": None,
            "chosen_completion": None if r == -1 else 0,
        }
        for t, r in zip(solution.steps, ratings, strict=False)
    ]
    gold.save()
    return GoldLabel.objects.create(solution=solution, labeling=gold)


# --- the rule ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_priority_is_selection_order_and_overlap_limits_labelings():
    project = make_project(solutions=2, overlap=2)
    a, b, c = (annotator(project) for _ in range(3))
    first = GenerationItem.objects.get(rank=1).solution_id
    task_a = assignment_next(user=a, project=project).labeling
    task_b = assignment_next(user=b, project=project).labeling
    assert task_a.solution_id == task_b.solution_id == first  # overlap 2: both get rank 1
    task_c = assignment_next(user=c, project=project).labeling
    assert task_c.solution_id != first  # two live leases hold rank 1's slots
    assert assignment_next(user=a, project=project).labeling == task_a  # resume own task first


@pytest.mark.django_db
def test_an_annotator_never_gets_the_same_solution_twice():
    project = make_project(solutions=3, overlap=3)
    user = annotator(project)
    seen = []
    while (task := assignment_next(user=user, project=project).labeling) is not None:
        seen.append(task.solution_id)
        label_all_positive(task)
    assert len(seen) == len(set(seen)) == 3
    assert assignment_next(user=user, project=project).reason == "nothing_left"


@pytest.mark.django_db
def test_submitted_labelings_fill_the_overlap_and_close_the_item():
    project = make_project(solutions=1, overlap=2)
    item = GenerationItem.objects.get()
    for _ in range(2):
        label_all_positive(assignment_next(user=annotator(project), project=project).labeling)
    item.refresh_from_db()
    assert (item.submitted_count, item.is_open) == (2, False)
    assert assignment_next(user=annotator(project), project=project).labeling is None
    # raising the overlap reopens it
    project_update(project=project, overlap=3)
    item.refresh_from_db()
    assert item.is_open
    assert assignment_next(user=annotator(project), project=project).labeling is not None


# --- leases -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_expired_lease_returns_the_task_and_a_late_draft_save_is_409():
    project = make_project(solutions=1, overlap=1)
    late, other = annotator(project), annotator(project)
    task = assignment_next(user=late, project=project).labeling
    draft_save(labeling=task, steps=[{"rating": 1, "flagged": False}])
    assert assignment_next(user=other, project=project).labeling is None  # held
    Labeling.objects.filter(pk=task.pk).update(lease_expires_at=timezone.now() - timedelta(1))
    taken = assignment_next(user=other, project=project).labeling
    assert taken.solution_id == task.solution_id
    with pytest.raises(Conflict, match="expired"):
        draft_save(labeling=task, steps=[])
    with pytest.raises(Conflict):
        labeling_submit(labeling=task, finish_reason="give_up", reason="x")
    task.refresh_from_db()
    assert task.status == LabelingStatus.DRAFT and task.steps[0]["completions"][0]["rating"] == 1
    # coming back: the slot is gone, so the draft is closed as abandoned (kept, not exported)
    assert assignment_next(user=late, project=project).labeling is None
    task.refresh_from_db()
    assert task.status == LabelingStatus.ABANDONED and task.steps


@pytest.mark.django_db
def test_a_returning_annotator_keeps_an_expired_draft_when_the_slot_is_free():
    project = make_project(solutions=1, overlap=1, lease_minutes=30)
    user = annotator(project)
    task = assignment_next(user=user, project=project).labeling
    Labeling.objects.filter(pk=task.pk).update(lease_expires_at=timezone.now() - timedelta(1))
    assert assignment_next(user=user, project=project).labeling == task
    task.refresh_from_db()
    assert task.status == LabelingStatus.DRAFT
    assert task.lease_expires_at > timezone.now() + timedelta(minutes=29)
    # opening the page also takes it back
    Labeling.objects.filter(pk=task.pk).update(lease_expires_at=timezone.now() - timedelta(1))
    assert assignment_open(labeling=task).status == LabelingStatus.DRAFT


@pytest.mark.django_db
def test_activity_renews_the_lease():
    project = make_project(solutions=1, lease_minutes=5)
    task = assignment_next(user=annotator(project), project=project).labeling
    Labeling.objects.filter(pk=task.pk).update(
        lease_expires_at=timezone.now() + timedelta(seconds=5)
    )
    draft_save(labeling=task, steps=[{"rating": 1, "flagged": False}])
    task.refresh_from_db()
    assert task.lease_expires_at > timezone.now() + timedelta(minutes=4)


@pytest.mark.django_db
def test_a_lead_releases_a_lease():
    project = make_project(solutions=1)
    holder, other = annotator(project), annotator(project)
    task = assignment_next(user=holder, project=project).labeling
    lease_release(labeling=task)
    task.refresh_from_db()
    assert task.status == LabelingStatus.ABANDONED
    assert assignment_next(user=other, project=project).labeling.solution_id == task.solution_id
    with pytest.raises(Conflict):
        lease_release(labeling=task)


# --- screening and quality control ------------------------------------------------------------


def make_screening(project, golds):
    screening = Generation.objects.create(project=project, number=-1)
    for rank, ratings in enumerate(golds, start=1):
        solution = SolutionFactory(problem__project=project, steps=list(STEPS))
        GenerationItem.objects.create(generation=screening, solution=solution, rank=rank)
        gold_for(solution, ratings)
    return screening


@pytest.mark.django_db
def test_screening_pass_then_regular_work():
    project = make_project(solutions=2, screening_pass_mark=0.75)
    make_screening(project, [[1, 1, 1], [1, -1]])
    user = annotator(project)
    first = assignment_next(user=user, project=project).labeling
    assert first.is_screening and first.generation.number == -1
    label_with(first, [1, 1, 1])
    second = assignment_next(user=user, project=project).labeling
    assert second.is_screening
    label_with(second, [1, -1])
    membership = Membership.objects.get(user=user)
    assert membership.screening_status == ScreeningStatus.PASSED
    assert membership.screening_score == 1.0
    second.refresh_from_db()
    assert (second.gold_agreement, second.gold_first_error_match) == (1.0, True)
    regular = assignment_next(user=user, project=project).labeling
    assert not regular.is_screening and regular.generation.number == 0


@pytest.mark.django_db
def test_screening_fail_stops_work_with_a_reason():
    project = make_project(solutions=2, screening_pass_mark=0.75)
    make_screening(project, [[1, 1, 1], [1, -1]])
    user = annotator(project)
    label_with(assignment_next(user=user, project=project).labeling, [-1])  # 0 of 1 agree
    label_with(assignment_next(user=user, project=project).labeling, [1, 1, 1])  # 1 of 2
    membership = Membership.objects.get(user=user)
    assert membership.screening_status == ScreeningStatus.FAILED
    assert membership.screening_score == pytest.approx(1 / 3)
    result = assignment_next(user=user, project=project)
    assert result.labeling is None and result.reason == "screening_failed"
    assert "did not pass the screening" in result.message(project)


@pytest.mark.django_db
def test_quality_control_rate_is_within_statistical_bounds():
    qc_rate, draws_per_annotator, annotators = 0.2, 60, 5
    project = make_project(solutions=draws_per_annotator, overlap=annotators, qc_rate=qc_rate)
    generation = Generation.objects.get(project=project, number=0)
    for _ in range(draws_per_annotator):  # gold questions outside the queue
        solution = SolutionFactory(problem__project=project, steps=list(STEPS))
        gold_for(solution, [1, 1, 1])
    rng = random.Random(12345)
    served = qc = 0
    for _ in range(annotators):
        user = annotator(project)
        for _ in range(draws_per_annotator):
            task = assignment_next(user=user, project=project, rng=rng).labeling
            if task is None:
                break
            served += 1
            qc += task.is_quality_control
            assert task.generation == generation
            labeling_submit(labeling=task, finish_reason="give_up", reason="skip")
    # binomial(n, p): mean +- 4 standard deviations (a false alarm about once in 15,000 runs)
    sd = (served * qc_rate * (1 - qc_rate)) ** 0.5
    assert served == annotators * draws_per_annotator
    assert abs(qc - served * qc_rate) < 4 * sd, (qc, served)
    # no annotator got the same gold question twice in the generation
    repeats = (
        Labeling.objects.filter(is_quality_control=True)
        .values("labeler", "solution")
        .distinct()
        .count()
    )
    assert repeats == qc


@pytest.mark.django_db
def test_low_quality_control_agreement_pauses_when_enabled():
    project = make_project(
        solutions=10, qc_rate=1.0, qc_pause_threshold=0.8, qc_pause_min_questions=2
    )
    for _ in range(3):
        gold_for(SolutionFactory(problem__project=project, steps=list(STEPS)), [1, 1, 1])
    user = annotator(project)
    for _ in range(2):
        task = assignment_next(user=user, project=project).labeling
        assert task.is_quality_control
        label_with(task, [-1])
    result = assignment_next(user=user, project=project)
    assert result.labeling is None and result.reason == "paused"


# --- concurrency (PostgreSQL, real connections) ----------------------------------------------


def hammer(project, users, submit: bool):
    """Each user in its own thread (own connection) takes tasks until none is left."""
    errors, got = [], {u.pk: [] for u in users}
    barrier = threading.Barrier(len(users))

    def work(user):
        try:
            barrier.wait()
            while True:
                task = assignment_next(user=user, project=project).labeling
                if task is None or task.pk in got[user.pk]:
                    break
                got[user.pk].append(task.pk)
                if not submit:
                    break
                label_all_positive(task)
        except Exception as exc:  # reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return got


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_next_and_submit_never_over_assign_or_duplicate():
    overlap, solutions, workers = 2, 30, 24
    project = make_project(solutions=solutions, overlap=overlap)
    users = [annotator(project) for _ in range(workers)]
    hammer(project, users, submit=True)
    submitted = Labeling.objects.filter(project=project, status=LabelingStatus.SUBMITTED)
    per_solution = {}
    for labeling in submitted:
        per_solution.setdefault(labeling.solution_id, []).append(labeling.labeler_id)
    assert len(per_solution) == solutions
    counts = {solution: len(labelers) for solution, labelers in per_solution.items()}
    over = [s for s, n in counts.items() if n != overlap]
    detail = list(
        Labeling.objects.filter(solution_id__in=over).values_list(
            "solution_id", "labeler_id", "created_at", "submitted_at"
        )
    )
    assert set(counts.values()) == {overlap}, "\n".join(map(str, detail))
    assert all(len(set(labelers)) == len(labelers) for labelers in per_solution.values())
    assert not Labeling.objects.filter(project=project, status=LabelingStatus.DRAFT).exists()
    assert set(GenerationItem.objects.values_list("is_open", flat=True)) == {False}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_annotators_never_receive_the_same_single_overlap_task():
    project = make_project(solutions=40, overlap=1)
    users = [annotator(project) for _ in range(20)]
    got = hammer(project, users, submit=False)
    tasks = [pk for pks in got.values() for pk in pks]
    assert len(tasks) == 20
    solutions = list(Labeling.objects.filter(pk__in=tasks).values_list("solution_id", flat=True))
    assert len(set(solutions)) == 20
