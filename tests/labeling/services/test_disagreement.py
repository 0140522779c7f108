"""The disagreement queue end to end (issue 19 part 3): a run's publish queues the solutions
the rule names in the new generation, each served for exactly one more labeling, and the
lead sees the queue with reasons and outcomes."""

import pytest

from active_learning.loop import runs, triggers
from active_learning.loop.stages import publish
from active_learning.models import LoopSettings, ModelVersion, Run, SolutionScore
from labeling.models import (
    DisagreementItem,
    Generation,
    GenerationItem,
    Labeling,
    LabelingStatus,
    Membership,
    Role,
)
from labeling.services.assignments import assignment_next
from labeling.services.drafts import draft_save
from labeling.services.submission import labeling_submit
from tests.factories import LabelingFactory, ProjectFactory, SolutionFactory, UserFactory

pytestmark = pytest.mark.django_db

STEPS = [f"Step {i}." for i in range(6)]


def _label_steps(first_error):
    ratings = [1] * 6 if first_error == -1 else [1] * first_error + [-1]
    return [
        {
            "completions": [{"text": STEPS[i], "rating": r, "flagged": False}],
            "human_completion": None,
            "chosen_completion": 0 if r != -1 else None,
        }
        for i, r in enumerate(ratings)
    ]


def _scores(error_at=None, p_error=0.95):
    out = [0.97] * 6
    if error_at is not None:
        out[error_at] = 1.0 - p_error
    return out


def _setup(budget):
    """Generation 0 with six labeled solutions (overlap 1) and two unlabeled; the new model's
    scores of the labeled ones. Named cases: A human no error vs PRM 0.99 at step 2; B first
    errors 0 and 4 (k = 2); C human no error vs PRM 0.85 (under 0.9: not queued); D, E agree
    with the model; F human 1 vs PRM 3 (exactly k: not queued)."""
    project = ProjectFactory(
        qc_rate=0.0, disagreement_budget=budget, disagreement_k=2, disagreement_confidence=0.9
    )
    LoopSettings.objects.create(project=project, retrain_every=100)
    generation = Generation.objects.create(project=project, number=0)
    labeler = UserFactory()
    Membership.objects.create(project=project, user=labeler)
    cases = {
        "A": (-1, _scores(2, 0.99)),
        "B": (0, _scores(4, 0.6)),
        "C": (-1, _scores(2, 0.85)),
        "D": (3, _scores(3, 0.99)),
        "E": (-1, _scores()),
        "F": (1, _scores(3, 0.6)),
    }
    solutions = {}
    for rank, (name, (first_error, _)) in enumerate(cases.items()):
        solution = SolutionFactory(problem__project=project, steps=STEPS)
        GenerationItem.objects.create(
            generation=generation, solution=solution, rank=rank, submitted_count=1, is_open=False
        )
        LabelingFactory(
            solution=solution,
            labeler=labeler,
            generation=generation,
            steps=_label_steps(first_error),
            finish_reason="solution" if first_error == -1 else "found_error",
        )
        solutions[name] = solution
    for rank in range(2):  # unlabeled candidates for the new generation
        solution = SolutionFactory(problem__project=project)
        GenerationItem.objects.create(generation=generation, solution=solution, rank=10 + rank)
    run = triggers.run_create(project=project, trigger="lead", params={"strategy": "uniform"})
    runs.run_begin(run.pk)
    version = ModelVersion.objects.create(project=project, backbone="x", status="ready")
    Run.objects.filter(pk=run.pk).update(model_version=version)
    for name, (_, scores) in cases.items():
        SolutionScore.objects.create(
            model_version=version, solution=solutions[name], score=0.5, step_scores=scores
        )
    return project, run, version, solutions, labeler


def test_publish_queues_exactly_the_named_cases_with_their_reasons():
    """Catches C (0.85 < 0.9) or F (exactly k apart) being queued, A or B missed, and a
    queued item that wants the full overlap again rather than one more labeling."""
    project, run, version, solutions, _ = _setup(budget=10)
    published = publish.run_publish(run.pk)
    assert "2 solution(s) queued again" in published.log
    items = {i.solution_id: i for i in DisagreementItem.objects.filter(project=project)}
    assert {s: i.reason for s, i in items.items()} == {
        solutions["A"].pk: "prm_confident_error",
        solutions["B"].pk: "first_error_far",
    }
    assert all(i.generation_id == published.generation_id for i in items.values())
    assert all(i.model_version == version.pk for i in items.values())
    queued = GenerationItem.objects.filter(generation=published.generation, solution_id__in=items)
    assert sorted(queued.values_list("wanted", "is_open")) == [(1, True), (1, True)]


def test_a_budget_smaller_than_the_candidates_keeps_the_first_by_the_rule():
    project, run, _, solutions, _ = _setup(budget=1)
    publish.run_publish(run.pk)
    assert list(
        DisagreementItem.objects.filter(project=project).values_list("solution_id", flat=True)
    ) == [solutions["A"].pk]


def test_budget_zero_queues_nothing():
    project, run, _, _, _ = _setup(budget=0)
    publish.run_publish(run.pk)
    assert not DisagreementItem.objects.filter(project=project).exists()


def _label(project, user, first_error):
    task = assignment_next(user=user, project=project).labeling
    ratings = [1] * len(task.solution.steps)
    if first_error != -1:
        ratings = [1] * first_error + [-1]
    draft_save(labeling=task, steps=[{"rating": r, "flagged": False} for r in ratings])
    reason = "solution" if first_error == -1 else "found_error"
    return labeling_submit(labeling=task, finish_reason=reason)


def test_a_queued_solution_gets_exactly_one_more_labeling_and_the_lead_sees_the_outcome(
    client,
):
    """overlap + 1: a new annotator gets A once, then the item closes and nobody else is
    served it; its first labeler is never served it again. The API shows the reason and the
    outcome: pending, then a majority (1 of 2 is no majority; the lead's view says so)."""
    project, run, _, solutions, first_labeler = _setup(budget=1)
    published = publish.run_publish(run.pk)
    a = solutions["A"]
    client.force_login(UserFactory(role=Role.LEAD))
    url = f"/api/projects/{project.pk}/disagreements/"
    [row] = client.get(url).json()["items"]
    assert (row["solution"], row["reason"], row["outcome"]["status"]) == (
        a.pk,
        "prm_confident_error",
        "pending",
    )
    assert row["detail"]["prm_first_error"] == 2 and row["first_errors"] == [-1]

    served = []
    for _ in range(3):
        user = UserFactory()
        Membership.objects.create(project=project, user=user)
        while (task := assignment_next(user=user, project=project).labeling) is not None:
            served.append((user.pk, task.solution_id))
            ratings = [1] * 2 + [-1] if task.solution_id == a.pk else [1] * len(task.solution.steps)
            draft_save(labeling=task, steps=[{"rating": r, "flagged": False} for r in ratings])
            labeling_submit(
                labeling=task,
                finish_reason="found_error" if task.solution_id == a.pk else "solution",
            )
    assert [s for _, s in served].count(a.pk) == 1
    task = assignment_next(user=first_labeler, project=project).labeling
    assert task is None or task.solution_id != a.pk
    item = GenerationItem.objects.get(generation=published.generation, solution=a)
    assert (item.submitted_count, item.is_open) == (1, False)
    assert Labeling.objects.filter(solution=a, status=LabelingStatus.SUBMITTED).count() == 2

    [row] = client.get(url).json()["items"]
    assert row["first_errors"] == [-1, 2]
    assert row["outcome"]["status"] == "no_majority"


def test_the_outcome_is_the_majority_and_whether_it_agrees_with_the_model():
    """Catches a tie counted as a majority and a majority compared with the wrong step."""
    from labeling.services.disagreement import disagreement_outcome

    project, run, _, solutions, _ = _setup(budget=1)
    published = publish.run_publish(run.pk)
    item = DisagreementItem.objects.get(project=project)
    LabelingFactory(solution=solutions["A"], generation=published.generation)
    assert disagreement_outcome(item, [2, 2, -1]) == {
        "status": "majority",
        "majority_first_error": 2,
        "adjudicated_first_error": None,
        "agrees_with_model": True,
    }
    assert disagreement_outcome(item, [-1, -1, 2])["agrees_with_model"] is False
    assert disagreement_outcome(item, [-1, 2])["status"] == "no_majority"


def test_the_lead_queue_page_lists_the_queue_with_reasons(client):
    project, run, _, _, _ = _setup(budget=5)
    publish.run_publish(run.pk)
    client.force_login(UserFactory(role=Role.LEAD))
    html = client.get(f"/projects/{project.pk}/queue/").content.decode()
    assert 'data-testid="disagreements"' in html
    assert "Annotator found no error; the PRM is confident" in html
    assert "waiting for one more labeling" in html


def test_a_recount_keeps_a_queued_item_to_one_more_labeling():
    """generation_items_recount (run after imports and overlap changes) opens or closes items
    by `wanted` when set: catches a recount that reopens a queued item for the full overlap
    or closes it before its one labeling."""
    from labeling.services.quality import generation_items_recount

    project, run, _, solutions, _ = _setup(budget=1)
    published = publish.run_publish(run.pk)
    project.overlap = 3
    project.save()
    generation_items_recount(project)
    item = GenerationItem.objects.get(generation=published.generation, solution=solutions["A"])
    assert (item.submitted_count, item.is_open) == (0, True)
    LabelingFactory(solution=solutions["A"], generation=published.generation)
    generation_items_recount(project)
    item.refresh_from_db()
    assert (item.submitted_count, item.is_open) == (1, False)


def test_a_solution_relabeled_once_is_not_queued_again_by_a_later_run():
    """overlap + 1 means one more labeling in all: A got its extra labeling in the first
    queue; the next run, whose rule still names A (the two labelings disagree), must not
    queue it again (overlap + 2, and the budget spent on it again): the budget goes to B.
    Catches a fill that leaves out only the solutions queued in the same generation."""
    from labeling.services.disagreement import disagreement_queue_fill

    project, run, version, solutions, _ = _setup(budget=1)
    published = publish.run_publish(run.pk)
    a = solutions["A"]
    LabelingFactory(
        solution=a,
        generation=published.generation,
        steps=_label_steps(2),
        finish_reason="found_error",
    )
    later = Generation.objects.create(project=project, number=published.generation.number + 1)
    scores = dict(SolutionScore.objects.values_list("solution_id", "step_scores"))
    queued = disagreement_queue_fill(
        generation=later, model_version_id=version.pk, step_scores=scores
    )
    assert [i.solution_id for i in queued] == [solutions["B"].pk]
    assert not GenerationItem.objects.filter(generation=later, solution=a).exists()


def test_a_solution_still_waiting_is_queued_again_in_the_next_generation():
    """Only the newest generation is served, so A, queued but not yet relabeled when the next
    generation is published, is queued there again (else it would wait forever)."""
    from labeling.services.disagreement import disagreement_queue_fill

    project, run, version, solutions, _ = _setup(budget=1)
    published = publish.run_publish(run.pk)
    later = Generation.objects.create(project=project, number=published.generation.number + 1)
    scores = dict(SolutionScore.objects.values_list("solution_id", "step_scores"))
    queued = disagreement_queue_fill(
        generation=later, model_version_id=version.pk, step_scores=scores
    )
    assert [i.solution_id for i in queued] == [solutions["A"].pk]


def test_filling_the_same_generation_twice_adds_nothing():
    """The budget is per generation: a second fill of the same generation (a retried publish)
    must not queue the next candidates on top (catches a budget counted per call, which
    queued B after A with budget 1)."""
    from labeling.services.disagreement import disagreement_queue_fill

    _, run, version, solutions, _ = _setup(budget=1)
    published = publish.run_publish(run.pk)
    scores = dict(SolutionScore.objects.values_list("solution_id", "step_scores"))
    again = disagreement_queue_fill(
        generation=published.generation, model_version_id=version.pk, step_scores=scores
    )
    assert again == []
    assert list(DisagreementItem.objects.values_list("solution_id", flat=True)) == [
        solutions["A"].pk
    ]


def test_a_leads_ruling_is_the_outcome_the_queue_shows(client):
    """Issue 19: the lead sees who was right "by majority or by a lead's adjudication". A
    ruling on a pending item makes its outcome `adjudicated` with the ruled step and whether
    the model agrees, in the API and on the queue page (catches a queue that ignores it)."""
    from labeling.models import Adjudication

    project, run, _, solutions, _ = _setup(budget=1)
    publish.run_publish(run.pk)
    lead = UserFactory(role=Role.LEAD)
    Adjudication.objects.create(
        project=project, solution=solutions["A"], first_error=2, adjudicated_by=lead
    )
    client.force_login(lead)
    [row] = client.get(f"/api/projects/{project.pk}/disagreements/").json()["items"]
    assert row["outcome"] == {
        "status": "adjudicated",
        "majority_first_error": None,
        "adjudicated_first_error": 2,
        "agrees_with_model": True,
    }
    html = client.get(f"/projects/{project.pk}/queue/").content.decode()
    assert "adjudicated: step 3 (with the model)" in html


def test_the_queue_state_is_honest_about_ruled_relabeled_waiting_and_stale_items(client):
    """Three items queued in one generation: A is settled by a lead's ruling, B by its extra
    labeling, D still waits. Then a newer generation is published: D's old item can no longer
    be served, so it is `not_served`, not `pending` (catches a queue that counts a stale item
    as waiting); the next fill requeues D but not A (adjudicated) or B (relabeled); once D is
    relabeled in the newer generation, its old item shows that outcome too (catches an old
    item left `pending` after its solution got the extra labeling elsewhere)."""
    from labeling.models import Adjudication
    from labeling.services.disagreement import disagreement_queue_fill

    project, run, version, solutions, _ = _setup(budget=3)
    a, b, d = solutions["A"], solutions["B"], solutions["D"]
    LabelingFactory(  # a second labeling of D that disagrees: annotators_disagree
        solution=d,
        generation=Generation.objects.get(project=project, number=0),
        steps=_label_steps(0),
        finish_reason="found_error",
    )
    published = publish.run_publish(run.pk)
    lead = UserFactory(role=Role.LEAD)
    client.force_login(lead)
    url = f"/api/projects/{project.pk}/disagreements/"

    def statuses():
        return {
            (r["solution"], r["generation"]): r["outcome"]["status"]
            for r in client.get(url).json()["items"]
        }

    first = published.generation.number
    assert statuses() == {
        (a.pk, first): "pending",
        (b.pk, first): "pending",
        (d.pk, first): "pending",
    }
    Adjudication.objects.create(project=project, solution=a, first_error=2, adjudicated_by=lead)
    LabelingFactory(
        solution=b,
        generation=published.generation,
        steps=_label_steps(0),
        finish_reason="found_error",
    )
    assert statuses() == {
        (a.pk, first): "adjudicated",
        (b.pk, first): "majority",
        (d.pk, first): "pending",
    }

    later = Generation.objects.create(project=project, number=first + 1)
    assert statuses()[(d.pk, first)] == "not_served"
    html = client.get(f"/projects/{project.pk}/queue/").content.decode()
    assert "no longer served" in html and "waiting for one more labeling" not in html
    scores = dict(SolutionScore.objects.values_list("solution_id", "step_scores"))
    queued = disagreement_queue_fill(
        generation=later, model_version_id=version.pk, step_scores=scores
    )
    assert [i.solution_id for i in queued] == [d.pk]
    assert statuses() == {
        (a.pk, first): "adjudicated",
        (b.pk, first): "majority",
        (d.pk, first): "not_served",
        (d.pk, first + 1): "pending",
    }
    LabelingFactory(
        solution=d, generation=later, steps=_label_steps(0), finish_reason="found_error"
    )
    assert statuses()[(d.pk, first)] == statuses()[(d.pk, first + 1)] == "majority"
    filtered = client.get(url, {"generation": first}).json()["items"]
    assert {r["solution"]: r["outcome"]["status"] for r in filtered}[d.pk] == "majority"
