"""PRM800K phase-1 labeling (labeling/phase1_rules.py, labeling/services/phase1.py): the step
state machine (rate alternatives, continue with one or with an own step, endings), the
alternatives store and its generator hook, drafts with revisions, and the export in the
release's phase-1 layout with a byte-for-byte round trip.

The real phase-1 records are a copy of the three phase-1 lines of PRM800K's release examples
(../shared/data/prm800k_samples.jsonl; PRM800K, OpenAI, MIT) in
tests/labeling/fixtures/prm800k_phase1_samples.jsonl.
"""

import io
import json
from pathlib import Path

import pytest

from labeling import hooks, phase1_rules, prm800k
from labeling.errors import ApplicationError, Conflict, NotFound
from labeling.models import (
    AlternativesStatus,
    Labeling,
    LabelingStatus,
    NextStepAlternatives,
    Problem,
    Project,
    Role,
)
from labeling.rating_rules import DraftError
from labeling.services import assignments, drafts, phase1, submission
from labeling.services.prm800k import prm800k_import
from labeling.services.prm800k_export import prm800k_export
from tests.factories import ProblemFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).parent.parent / "fixtures" / "prm800k_phase1_samples.jsonl"
FIRST = ["Let $x$ be the answer.", "Guess 3.", "We know $x+1=3$."]
AFTER_X = ["So $x = 2$.\n\n# Answer\n\n2", "So $x=5$.", "Hmm."]


def fixture_lines() -> list[str]:
    return FIXTURE.read_text(encoding="utf-8").splitlines()


@pytest.fixture
def served():
    """A phase-1 project with one problem, alternatives at the start and after FIRST[0], one
    annotator holding the task: (project, problem, annotator, labeling)."""
    project = ProjectFactory(phase1_mode=True, phase1_alternatives=3)
    problem = ProblemFactory(project=project, text="What is $x$ if $x+1=3$?", reference_answer="2")
    phase1.alternatives_store(problem=problem, prefix=[], texts=FIRST, source="test")
    phase1.alternatives_store(problem=problem, prefix=[FIRST[0]], texts=AFTER_X, source="test")
    phase1.phase1_generation_create(project=project)
    user = UserFactory(role=Role.ANNOTATOR)
    project.members.add(user)
    labeling = assignments.assignment_next(user=user, project=project).labeling
    return project, problem, user, labeling


def save(labeling, positions, revision=None, **kwargs):
    return phase1.phase1_draft_save(
        user_id=labeling.labeler_id,
        assignment_id=labeling.pk,
        steps=positions,
        revision=revision,
        **kwargs,
    )


def submit(labeling, finish_reason, reason="", revision=None):
    return submission.assignment_submit(
        user_id=labeling.labeler_id,
        assignment_id=labeling.pk,
        finish_reason=finish_reason,
        reason=reason,
        revision=revision,
    )


def export_lines(project) -> list[str]:
    out = io.StringIO()
    prm800k_export(project=project, out=out)
    return out.getvalue().splitlines()


RATE_FIRST = {"ratings": [1, -1, 0], "chosen": 0}
RATE_AFTER = {"ratings": [1, -1, -1], "chosen": 0}


# --- the state machine (pure rules) -----------------------------------------------------------


def build(positions, alternatives):
    return phase1_rules.build_label_steps(
        phase1_rules.parse_positions(positions), lambda i, prefix, shown: alternatives.get(i, [])
    )


@pytest.mark.parametrize(
    ("positions", "message"),
    [
        ([{"ratings": [1, None, 0], "chosen": 0}], "rate every alternative before continuing"),
        ([{"ratings": [-1, 1, 0], "chosen": 0}], "rated Neutral or Positive"),
        ([{"ratings": [1, 1, 1], "chosen": 5}], "5 is not one of 3"),
        ([{"ratings": [1, 1, 1, 1]}], "3 alternatives are shown"),
        ([{"ratings": [1]}, {"ratings": [1]}], "steps[0]: continue with an alternative"),
        ([{"ratings": [2]}], "steps[0].ratings[0]: must be -1, 0, 1 or null"),
        ([{"ratings": [1, 1, 1], "chosen": 0, "human": "Mine."}], "not both"),
        ([{"ratings": [1, 1, 1], "human": "   "}], "your own step is empty"),
        ([{"ratings": [1, 1, 1], "human": "bad \x00 text"}], "steps[0].human"),
        # JSON's 1.0 equals 1 in Python: stored as a float it broke the submit (a 500) and the
        # release's layout (ratings are integers)
        ([{"ratings": [1.0, 0, -1], "chosen": 0}], "steps[0].ratings[0]: must be -1, 0, 1"),
        ([{"ratings": [1, -0.0, -1], "chosen": 0}], "steps[0].ratings[1]: must be -1, 0, 1"),
        # an answer block with no answer would end the labeling as a solution with no answer
        ([{"ratings": [1, 1, 1], "human": "So.\n\n# Answer\n\n  "}], "steps[0].human: "),
    ],
)
def test_positions_that_break_a_rule_are_refused_naming_the_field(positions, message):
    """Catches a rule of phase 1 that the server does not enforce (e.g. continuing before
    every alternative is rated, or with a Negative one), or an error that names no field."""
    with pytest.raises(DraftError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build(positions, {0: FIRST, 1: AFTER_X})


def test_nothing_may_follow_the_final_answer():
    """Catches a labeling that goes on after the step that gave the final answer."""
    positions = [RATE_FIRST, RATE_AFTER, {"ratings": [1]}]
    with pytest.raises(DraftError, match=r"steps\[2\]: the labeling ended"):
        build(positions, {0: FIRST, 1: AFTER_X, 2: ["More."]})


def test_label_steps_take_texts_from_the_alternatives_and_own_steps_in_release_layout():
    """Catches alternatives taken from the client, or an own step stored in another layout
    than the release's human_completion {"text", "rating": null, "source": "human",
    "flagged": false} with chosen_completion null."""
    steps = build(
        [{"ratings": [0, -1, -1], "human": "Mine: $x=2$."}, {"ratings": [1, None]}],
        {0: FIRST, 1: ["a", "b"]},
    )
    assert steps[0] == {
        "completions": [
            {"text": FIRST[0], "rating": 0, "flagged": False},
            {"text": FIRST[1], "rating": -1, "flagged": False},
            {"text": FIRST[2], "rating": -1, "flagged": False},
        ],
        "human_completion": {
            "text": "Mine: $x=2$.",
            "rating": None,
            "source": "human",
            "flagged": False,
        },
        "chosen_completion": None,
    }
    assert steps[1]["completions"][1] == {"text": "b", "rating": None, "flagged": False}
    assert prm800k.trajectory(steps) == ["Mine: $x=2$."]


def test_endings_of_a_phase1_labeling():
    """Catches `solution` accepted before the final answer is reached, phase 2's
    `found_error` accepted in phase 1, or give up without a reason."""
    unfinished = build([RATE_FIRST], {0: FIRST})
    finished = build([RATE_FIRST, RATE_AFTER], {0: FIRST, 1: AFTER_X})
    with pytest.raises(DraftError, match="final answer"):
        phase1_rules.check_submit(unfinished, "solution", "")
    assert phase1_rules.check_submit(finished, "solution", "") == ""
    with pytest.raises(DraftError, match="phase-1 labeling ends with"):
        phase1_rules.check_submit(finished, "found_error", "")
    with pytest.raises(DraftError, match="needs a short reason"):
        phase1_rules.check_submit(unfinished, "give_up", " ")
    assert phase1_rules.check_submit(unfinished, "bad_problem", " typo ") == "typo"


# --- the service: drafts, alternatives, submit ------------------------------------------------


def test_phase1_generation_serves_the_problem_alone(served):
    """Catches a phase-1 task that is not served by the ordinary queue, or whose solution
    carries steps (the page would then show phase 2)."""
    _, problem, _, labeling = served
    assert labeling.solution.problem == problem and labeling.solution.steps == []
    assert phase1.is_phase1_task(labeling)
    state = phase1.phase1_task_state(labeling)
    assert state["open"] == {
        "position": 0,
        "status": "ready",
        "alternatives": FIRST,
        "source": "test",
        "error": "",
    }


def test_generation_needs_phase1_mode():
    """Catches phase-1 tasks queued in a project that is not in phase-1 mode."""
    project = ProjectFactory()
    ProblemFactory(project=project)
    with pytest.raises(ApplicationError, match="phase-1 mode"):
        phase1.phase1_generation_create(project=project)


def test_rating_and_choosing_saves_the_draft_and_opens_the_next_alternatives(served):
    """Catches a save that does not record the alternatives' texts and ratings, does not bump
    the revision, or does not show the alternatives that follow the chosen path."""
    _, _, _, labeling = served
    saved = save(labeling, [{"ratings": [1, -1]}], revision=0)  # rating in progress
    assert saved.revision == 1
    assert saved.open["position"] == 0 and saved.open["alternatives"] == FIRST
    saved = save(labeling, [RATE_FIRST], revision=1, total_time_ms=5000)
    assert saved.revision == 2 and saved.total_time_ms == 5000
    assert saved.open == {
        "position": 1,
        "status": "ready",
        "alternatives": AFTER_X,
        "source": "test",
        "error": "",
    }
    labeling.refresh_from_db()
    assert [c["rating"] for c in labeling.steps[0]["completions"]] == [1, -1, 0]
    assert labeling.steps[0]["chosen_completion"] == 0
    # the same positions again (a heartbeat, a retried save) change nothing but the time
    again = save(labeling, [RATE_FIRST], revision=1, total_time_ms=4000)
    assert again.revision == 2 and again.total_time_ms == 5000


def test_a_stale_save_is_refused_with_the_stored_positions(served):
    """Catches a save based on an old revision overwriting another tab's work (the 409 must
    carry the stored draft in the client's form so the page can compare)."""
    _, _, _, labeling = served
    save(labeling, [RATE_FIRST], revision=0)
    with pytest.raises(phase1.Phase1StaleDraft) as caught:
        save(labeling, [{"ratings": [0, 0, 0], "chosen": 1}], revision=0)
    assert caught.value.data["code"] == "stale_draft"
    assert caught.value.data["revision"] == 1
    assert caught.value.data["steps"] == [
        {"ratings": [1, -1, 0], "flagged": [False] * 3, "chosen": 0, "human": None, "shown": 3}
    ]
    labeling.refresh_from_db()
    assert labeling.draft_revision == 1 and labeling.steps[0]["chosen_completion"] == 0


def test_positions_made_on_an_older_draft_are_a_conflict_even_when_they_break_a_rule(served):
    """Catches a stale tab told "bad input" (400, which it would show as its own mistake)
    instead of "changed in another tab" (409) when its positions no longer fit the newer
    draft's path."""
    _, _, _, labeling = served
    save(labeling, [RATE_FIRST], revision=0)  # another tab continued along proposal 1
    phase1.alternatives_store(
        problem=labeling.solution.problem, prefix=[FIRST[2]], texts=["A."], source="t"
    )
    save(labeling, [{"ratings": [1, -1, 0], "chosen": 2}, {"ratings": [1]}], revision=1)
    stale = [RATE_FIRST, {"ratings": [1, -1, -1, 1]}]  # four ratings: fits no newer step
    with pytest.raises(phase1.Phase1StaleDraft):
        save(labeling, stale, revision=1)
    with pytest.raises(ApplicationError, match="3 alternatives are shown"):
        save(labeling, stale, revision=2)


def test_an_own_step_off_the_known_paths_asks_the_generator_and_waits(
    served, django_capture_on_commit_callbacks
):
    """Catches an own step that leaves the page without a visible wait (no pending request),
    a request that the generator hook never hears of, or a filled request not shown."""
    project, _, _, labeling = served
    heard = []

    def listener(project_id, **details):
        heard.append((project_id, details))

    hooks.next_steps_wanted.subscribe(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            saved = save(labeling, [{"ratings": [-1, -1, -1], "human": "Mine: $x+1=3$."}])
    finally:
        hooks.next_steps_wanted.unsubscribe(listener)
    assert saved.open["status"] == "pending" and saved.open["alternatives"] == []
    pending = NextStepAlternatives.objects.get(status=AlternativesStatus.PENDING)
    assert pending.prefix == ["Mine: $x+1=3$."] and pending.requested == 3
    assert heard == [(project.pk, {"alternatives_id": pending.pk, "k": 3})]
    # asking again (a reload) makes no second request
    phase1.phase1_task_state(Labeling.objects.get(pk=labeling.pk))
    assert NextStepAlternatives.objects.filter(status="pending").count() == 1
    phase1.alternatives_fill(alternatives_id=pending.pk, texts=["So 2.\n\n# Answer\n\n2"])
    state = phase1.phase1_task_state(Labeling.objects.get(pk=labeling.pk))
    assert state["open"]["status"] == "ready"
    assert state["open"]["alternatives"] == ["So 2.\n\n# Answer\n\n2"]
    with pytest.raises(ApplicationError, match="never change"):
        phase1.alternatives_fill(alternatives_id=pending.pk, texts=["Other."])
    assert phase1.alternatives_wanted(project_id=project.pk) == []


def test_a_polling_generator_finds_what_is_wanted_and_a_failure_is_shown(served):
    """Catches a pending request a generator cannot find (with the problem and the path to
    continue), or a generator failure that leaves the page waiting for ever."""
    project, problem, _, labeling = served
    save(labeling, [{"ratings": [-1, -1, -1], "human": "Mine."}])
    [wanted] = phase1.alternatives_wanted(project_id=project.pk)
    assert wanted["problem"] == problem.text and wanted["prefix"] == ["Mine."]
    assert wanted["k"] == 3
    phase1.alternatives_fill(alternatives_id=wanted["id"], error="no parseable step")
    state = phase1.phase1_task_state(Labeling.objects.get(pk=labeling.pk))
    assert state["open"]["status"] == "failed"
    assert state["open"]["error"] == "no parseable step"
    assert phase1.alternatives_wanted() == []
    with pytest.raises(NotFound):
        phase1.alternatives_fill(alternatives_id=10**9, texts=["x"])
    with pytest.raises(ApplicationError, match=r"texts\[0\]"):
        phase1.alternatives_store(problem=problem, prefix=["x"], texts=[""], source="g")


def test_an_own_step_written_while_waiting_is_kept_when_proposals_arrive_meanwhile(served):
    """Catches an own step refused (400, the page stuck) because the generator stored the
    proposals between the page's last poll and the save: the page showed none (`shown` 0)."""
    _, problem, _, labeling = served
    save(labeling, [{"ratings": [-1, -1, -1], "human": "Mine."}])
    phase1.alternatives_store(problem=problem, prefix=["Mine."], texts=["Late."], source="gen")
    first = {"ratings": [-1, -1, -1], "human": "Mine."}
    # without `shown: 0` the proposals there must be rated first
    with pytest.raises(ApplicationError, match="rate every alternative"):
        save(labeling, [first, {"human": "Other."}])
    saved = save(labeling, [first, {"ratings": [], "human": "Mine again.", "shown": 0}])
    assert saved.steps[1]["completions"] == [] and saved.steps[1]["human_completion"]
    # once stored, the position keeps what it had whatever `shown` says later
    again = save(labeling, [first, {"human": "Mine again."}])
    assert again.revision == saved.revision


def test_alternatives_not_ready_cannot_be_rated(served):
    """Catches ratings accepted for alternatives the annotator was never shown."""
    _, _, _, labeling = served
    with pytest.raises(ApplicationError, match=r"steps\[1\].ratings: 0 alternatives"):
        save(labeling, [{"ratings": [-1, -1, -1], "human": "Mine."}, {"ratings": [1]}])


def test_submit_solution_after_the_final_answer_and_not_before(served):
    """Catches a phase-1 labeling submitted as solution before the final answer, or the
    submit path refusing a finished one (it checks phase 2's rules for a 0-step solution)."""
    _, _, _, labeling = served
    save(labeling, [RATE_FIRST])
    with pytest.raises(ApplicationError, match="final answer"):
        submit(labeling, "solution")
    saved = save(labeling, [RATE_FIRST, RATE_AFTER])
    assert saved.open["status"] == "done"
    with pytest.raises(ApplicationError, match="phase-1 labeling ends with"):
        submit(labeling, "found_error")
    with pytest.raises(drafts.StaleDraft):
        submit(labeling, "solution", revision=1)
    done = submit(labeling, "solution", revision=saved.revision)
    assert done.status == LabelingStatus.SUBMITTED and done.finish_reason == "solution"
    # every rated alternative is a StepRating row (statistics and training read them)
    assert done.ratings.count() == 6
    with pytest.raises(Conflict):
        save(labeling, [RATE_FIRST])


def test_give_up_keeps_the_alternatives_shown_at_the_last_step(served):
    """Catches a give-up that drops the step the annotator stopped at (PRM800K keeps it,
    ratings null where not rated)."""
    project, _, _, labeling = served
    save(labeling, [RATE_FIRST, {"ratings": [None, -1]}])
    submit(labeling, "give_up", reason="stuck")
    record = json.loads(export_lines(project)[0])
    last = record["label"]["steps"][-1]
    assert [c["rating"] for c in last["completions"]] == [None, -1, None]
    assert last["chosen_completion"] is None and last["human_completion"] is None
    assert record["label"]["finish_reason"] == "give_up"


def test_someone_elses_or_a_phase2_task_is_not_found(served):
    """Catches the phase-1 save writing another annotator's draft, or a phase-2 draft."""
    _, _, _, labeling = served
    other = UserFactory()
    with pytest.raises(NotFound):
        phase1.phase1_draft_save(user_id=other.pk, assignment_id=labeling.pk, steps=[])
    labeling.solution.steps = ["One."]
    labeling.solution.save()
    with pytest.raises(NotFound):
        save(labeling, [])


# --- export and import ------------------------------------------------------------------------


def shape(value):
    """The key structure of a record: dict keys in order, recursively; lists by their first
    element's shape; scalars by kind."""
    if isinstance(value, dict):
        return {key: shape(v) for key, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return "null" if value is None else type(value).__name__


def test_a_phase1_labeling_exports_in_the_release_phase1_layout(served):
    """Catches an export of a phase-1 labeling made here in phase 2's layout (generation
    number, pre-generated steps in `question`) or with keys in another order than the
    release's phase-1 records."""
    project, problem, user, labeling = served
    save(labeling, [{"ratings": [0, -1, -1], "human": "We know $x + 1 = 3$."}])
    # the own step left the known paths: the generator answers
    pending = NextStepAlternatives.objects.get(status="pending")
    phase1.alternatives_fill(alternatives_id=pending.pk, texts=AFTER_X, source="gen")
    save(labeling, [{"ratings": [0, -1, -1], "human": "We know $x + 1 = 3$."}, RATE_AFTER])
    submit(labeling, "solution", revision=None)
    [line] = export_lines(project)
    record = json.loads(line)
    release = json.loads(fixture_lines()[0])
    assert list(record) == list(release)
    assert record["generation"] is None and release["generation"] is None
    assert list(record["question"]) == ["problem", "ground_truth_answer"]
    assert record["question"] == {"problem": problem.text, "ground_truth_answer": "2"}
    assert record["labeler"] == str(user.labeler_uuid)
    assert shape(record["label"]["steps"][0]) == shape(release["label"]["steps"][1])
    assert record["label"]["steps"][0]["human_completion"]["source"] == "human"
    assert record["label"]["finish_reason"] == "solution"
    assert line == json.dumps(record)  # the release's separators and escaping


def test_an_exported_phase1_labeling_reimports_and_exports_byte_for_byte(served):
    """Catches an export that the import does not store faithfully (the round trip through
    another project would change a byte)."""
    project, _, _, labeling = served
    save(labeling, [RATE_FIRST, RATE_AFTER], total_time_ms=12345)
    submit(labeling, "solution")
    exported = "\n".join(export_lines(project)) + "\n"
    prm800k_import(stream=io.BytesIO(exported.encode()), name="x.jsonl", project_name="again")
    again = Project.objects.get(name="again")
    assert "\n".join(export_lines(again)) + "\n" == exported
    assert not Labeling.objects.filter(project=again).exclude(source_line=None).exists()


def test_release_phase1_records_round_trip_and_give_their_alternatives():
    """Catches a phase-1 record of the release that does not export byte for byte, and
    alternatives not taken from the records' steps along their labelers' paths."""
    lines = fixture_lines()
    data = "".join(line + "\n" for line in lines).encode()
    prm800k_import(stream=io.BytesIO(data), name="phase1.jsonl", project_name="p1")
    project = Project.objects.get(name="p1")
    assert export_lines(project) == lines
    created = phase1.alternatives_from_labelings(project=project)
    records = [json.loads(line) for line in lines]
    assert created == sum(
        1 for r in records for s in r["label"]["steps"] if s["completions"]
    ) - _repeated_points(records)
    first = records[0]
    problem = Problem.objects.get(project=project, text=first["question"]["problem"])
    steps = first["label"]["steps"]
    at_start = phase1.alternatives_for(problem.pk, [])
    assert at_start.texts == [c["text"] for c in steps[0]["completions"]]
    path = prm800k.trajectory(steps[:1])
    assert phase1.alternatives_for(problem.pk, path).texts == [
        c["text"] for c in steps[1]["completions"]
    ]
    assert at_start.source == phase1.PRM800K_ALTERNATIVES
    # the export is unchanged by it
    assert export_lines(project) == lines


def _repeated_points(records) -> int:
    seen, repeated = set(), 0
    for record in records:
        steps = record["label"]["steps"]
        for i, step in enumerate(steps):
            if step["completions"]:
                key = (record["question"]["problem"], json.dumps(prm800k.trajectory(steps[:i])))
                repeated += key in seen
                seen.add(key)
    return repeated


def test_training_examples_use_every_rated_alternative_of_a_phase1_labeling(served):
    """Catches a training builder that drops the alternatives an annotator rated but did not
    continue with (each rating must be used exactly once)."""
    from active_learning.prm import data

    _, problem, _, labeling = served
    save(labeling, [RATE_FIRST, RATE_AFTER])
    labeling = submit(labeling, "solution")
    labeling.refresh_from_db()
    examples = data.examples_from_label_steps(problem.text, labeling.steps, "solution")
    assert data.labeled_steps(examples) == data.ratings_present(labeling.steps) == 6
    # and through the loop's own reading of the project's labelings
    from active_learning.services.training import training_labelings

    project = labeling.project
    loop_examples = data.from_labelings(training_labelings(project))
    assert data.labeled_steps(loop_examples) == 6
    assert sum(e.meta.get("alternative", False) for e in loop_examples) == 4


# --- quality control and screening ------------------------------------------------------------


def gold_phase1_labeling(project, solution, positions, alternatives):
    """A submitted phase-1 labeling by an expert, made the solution's gold."""
    from django.utils import timezone

    from labeling.services.quality import gold_mark

    steps = build(positions, alternatives)
    expert = UserFactory(username="expert")
    labeling = Labeling.objects.create(
        project=project,
        solution=solution,
        labeler=expert,
        status=LabelingStatus.SUBMITTED,
        finish_reason=phase1_rules.finish_reason_of(steps) or "give_up",
        submitted_at=timezone.now(),
        steps=steps,
        is_quality_control=True,
    )
    gold_mark(labeling=labeling)
    return labeling


def test_quality_control_scores_phase1_answers_by_the_proposals_both_rated(served):
    """Catches phase-1 quality control compared by step position (two labelers on different
    paths would be scored on different steps) or not scored at all."""
    project, _, _, labeling = served
    project.qc_rate = 1.0
    project.save()
    gold = gold_phase1_labeling(
        project, labeling.solution, [RATE_FIRST, RATE_AFTER], {0: FIRST, 1: AFTER_X}
    )
    checker = UserFactory()
    project.members.add(checker)
    question = assignments.assignment_next(user=checker, project=project).labeling
    assert question.is_quality_control and question.solution_id == gold.solution_id
    # the same path, one of the six ratings different (4th: AFTER_X[0] rated 0, gold +1)
    save(question, [RATE_FIRST, {"ratings": [0, -1, -1], "chosen": 0}])
    submit(question, "solution")
    question.refresh_from_db()
    assert question.gold_agreement == pytest.approx(5 / 6)
    assert question.gold_first_error_match is True


def test_screening_with_phase1_questions_passes_on_proposal_agreement(served):
    """Catches a phase-1 screening question that cannot be answered or never decides."""
    from labeling.models import Generation, GenerationItem, Membership, ScreeningStatus

    project, problem, _, labeling = served
    gold_phase1_labeling(
        project, labeling.solution, [RATE_FIRST, RATE_AFTER], {0: FIRST, 1: AFTER_X}
    )
    phase1.alternatives_store(problem=problem, prefix=[FIRST[2]], texts=["Other."], source="t")
    screening = Generation.objects.create(project=project, number=Generation.SCREENING)
    GenerationItem.objects.create(generation=screening, solution=labeling.solution, rank=1)
    newcomer = UserFactory()
    project.members.add(newcomer)
    question = assignments.assignment_next(user=newcomer, project=project).labeling
    assert question.is_screening
    # another path: rates the three first proposals like the gold, then continues elsewhere
    # and rates a step the gold never saw (by position it would disagree at step 2: 1/2)
    save(question, [{"ratings": [1, -1, 0], "chosen": 2}, {"ratings": [-1]}])
    submit(question, "give_up", reason="no idea")
    membership = Membership.objects.get(project=project, user=newcomer)
    assert membership.screening_status == ScreeningStatus.PASSED
    assert membership.screening_score == 1.0


def test_phase1_tasks_are_never_candidates_of_the_loop(served):
    """Catches the loop scoring and selecting a problem-only solution (no steps) as a phase-2
    candidate."""
    from active_learning.loop.candidates import candidate_ids
    from tests.factories import SolutionFactory

    project, problem, _, labeling = served
    labeling.delete()  # unlabeled again: only its lack of steps keeps it out
    other = SolutionFactory(problem=problem)
    assert candidate_ids(project) == [other.pk]


def test_an_expired_hold_refuses_the_save_and_overlap_closes_the_task(served):
    """Catches a phase-1 save accepted after its lease expired, or a submitted phase-1 task
    still served beyond the project's overlap (1 here)."""
    from datetime import timedelta

    from django.utils import timezone

    from labeling.models import GenerationItem

    project, _, _, labeling = served
    Labeling.objects.filter(pk=labeling.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(Conflict, match="hold on this task expired"):
        save(labeling, [RATE_FIRST])
    Labeling.objects.filter(pk=labeling.pk).update(
        lease_expires_at=timezone.now() + timedelta(minutes=5)
    )
    save(labeling, [RATE_FIRST])
    submit(labeling, "give_up", reason="stop")
    item = GenerationItem.objects.get(solution=labeling.solution)
    assert item.submitted_count == 1 and not item.is_open
    later = UserFactory()
    project.members.add(later)
    assert assignments.assignment_next(user=later, project=project).labeling is None
