"""Screening and look-ahead in the next-task rule: a task the annotator already holds is never
made again (issue 13, the breaker's 500), at most MAX_HELD tasks are held at once, and giving up
on a screening question never helps to pass it."""

import pytest

from labeling.models import (
    Generation,
    GenerationItem,
    Labeling,
    LabelingStatus,
    Membership,
    ScreeningStatus,
)
from labeling.services.assignments import assignment_next
from labeling.services.drafts import draft_save
from labeling.services.submission import labeling_submit
from tests.factories import SolutionFactory
from tests.labeling.services.test_queue import (
    STEPS,
    annotator,
    gold_for,
    label_with,
    make_project,
    make_screening,
)

pytestmark = pytest.mark.django_db


def test_look_ahead_during_the_first_screening_question_serves_the_second():
    """Catches the 500 (IntegrityError on one draft per annotator and solution): the screening
    query skipped only submitted answers, so excluding the open question picked it again."""
    project = make_project(solutions=2)
    make_screening(project, [[1, 1, 1], [1, -1]])
    user = annotator(project)
    first = assignment_next(user=user, project=project).labeling
    ahead = assignment_next(user=user, project=project, exclude=(first.pk,)).labeling
    assert ahead is not None and ahead.is_screening and ahead.solution_id != first.solution_id
    # both questions held: nothing new to make, and still no error
    third = assignment_next(user=user, project=project, exclude=(first.pk, ahead.pk))
    assert third.labeling is None or third.labeling.pk in (first.pk, ahead.pk)


def test_a_single_screening_question_excluded_answers_nothing_left():
    """Catches the same 500 with one screening question: nothing else to serve is a 204."""
    project = make_project(solutions=2)
    make_screening(project, [[1, 1, 1]])
    user = annotator(project)
    first = assignment_next(user=user, project=project).labeling
    result = assignment_next(user=user, project=project, exclude=(first.pk,))
    assert result.labeling is None and result.reason == "nothing_left"


def test_a_held_gold_question_is_not_made_again_when_excluded():
    """Catches the QC source picking a gold question the annotator holds as an open draft of
    the previous generation (the same unique-draft 500) through the look-ahead's exclude: it
    skipped only the gold questions done in the current generation."""
    project = make_project(solutions=3, qc_rate=1.0)
    gold_for(SolutionFactory(problem__project=project, steps=list(STEPS)), [1, 1, 1])
    user = annotator(project)
    first = assignment_next(user=user, project=project).labeling
    assert first.is_quality_control
    newer = Generation.objects.create(project=project, number=1)
    for item in GenerationItem.objects.filter(generation__number=0):
        GenerationItem.objects.create(generation=newer, solution=item.solution, rank=item.rank)
    ahead = assignment_next(user=user, project=project, exclude=(first.pk,)).labeling
    assert ahead is not None and ahead.solution_id != first.solution_id


def test_exclude_never_holds_more_than_the_open_task_and_one_look_ahead():
    """Catches unbounded leases: repeating next with every id so far in `exclude` gave one
    annotator 15 live leases, each blocking an overlap slot."""
    project = make_project(solutions=10)
    user = annotator(project)
    seen: list[int] = []
    for _ in range(6):
        labeling = assignment_next(user=user, project=project, exclude=tuple(seen)).labeling
        if labeling.pk not in seen:
            seen.append(labeling.pk)
    held = Labeling.objects.filter(labeler=user, status=LabelingStatus.DRAFT)
    assert held.count() == 2  # labeling.services.leases.MAX_HELD
    # past the limit the answer is the newest task already held, the look-ahead
    assert assignment_next(user=user, project=project, exclude=tuple(seen)).labeling.pk == seen[1]
    # finishing one frees a place for a new look-ahead
    labeling_submit(
        labeling=Labeling.objects.get(pk=seen[0]), finish_reason="give_up", reason="skip"
    )
    new = assignment_next(user=user, project=project, exclude=(seen[1],)).labeling
    assert new.pk not in seen


def give_up(labeling, ratings):
    if ratings:
        draft_save(labeling=labeling, steps=[{"rating": r, "flagged": False} for r in ratings])
    return labeling_submit(labeling=labeling, finish_reason="give_up", reason="too hard")


@pytest.mark.parametrize("reason", ["give_up", "bad_problem"])
def test_giving_up_on_screening_questions_never_passes(reason):
    """Catches "Passed (1.00)" after giving up on both questions: a give-up counted only the
    steps it rated (two agreeing ratings of three: 1.00) and one with no rating was not
    counted at all. Now every step gold rated counts, those left unrated as wrong: 2 of 5."""
    project = make_project(solutions=2, screening_pass_mark=0.75)
    make_screening(project, [[1, 1, 1], [1, -1]])
    user = annotator(project)
    first = assignment_next(user=user, project=project).labeling
    draft_save(labeling=first, steps=[{"rating": 1, "flagged": False}] * 2)  # both agree
    labeling_submit(labeling=first, finish_reason=reason, reason="no")
    give_up(assignment_next(user=user, project=project).labeling, [])
    membership = Membership.objects.get(user=user)
    assert membership.screening_status == ScreeningStatus.FAILED
    assert membership.screening_score == pytest.approx(2 / 5)
    agreements = sorted(
        Labeling.objects.filter(labeler=user).values_list("gold_agreement", flat=True)
    )
    assert agreements == [0.0, pytest.approx(2 / 3)]
    assert not Labeling.objects.filter(labeler=user, gold_first_error_match=True).exists()


def test_the_steps_a_give_up_left_unrated_count_as_wrong():
    """3 right of 3, then a give-up rating 1 of gold's 2 steps (agreeing): 4 of 5 = 0.8, under a
    pass mark of 0.85. The old count (only the rated steps: 4 of 4) passed it."""
    project = make_project(solutions=2, screening_pass_mark=0.85)
    make_screening(project, [[1, 1, 1], [1, -1]])
    user = annotator(project)
    label_with(assignment_next(user=user, project=project).labeling, [1, 1, 1])
    give_up(assignment_next(user=user, project=project).labeling, [1])
    membership = Membership.objects.get(user=user)
    assert membership.screening_status == ScreeningStatus.FAILED
    assert membership.screening_score == pytest.approx(4 / 5)


def test_a_held_regular_task_requeued_in_a_newer_generation_is_not_served_again():
    """Every source skips a solution the annotator holds: here the disagreement queue's item
    (a newer generation's item wanting one more labeling) for the task they hold open."""
    project = make_project(solutions=2, overlap=2)
    user = annotator(project)
    held = assignment_next(user=user, project=project).labeling
    newer = Generation.objects.create(project=project, number=1)
    GenerationItem.objects.create(generation=newer, solution=held.solution, rank=1, wanted=3)
    other = SolutionFactory(problem__project=project, steps=list(STEPS))
    GenerationItem.objects.create(generation=newer, solution=other, rank=2)
    ahead = assignment_next(user=user, project=project, exclude=(held.pk,)).labeling
    assert ahead.solution_id == other.pk
