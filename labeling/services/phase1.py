"""PRM800K phase-1 labeling (docs/phase1.md): phase-1 generations, the open position and the
phase-1 draft save. The proposals themselves: labeling/services/phase1_alternatives.py (its
functions are importable from here too).

A *phase-1 task* is a labeling of a solution with no pre-generated steps: the problem alone
(`phase1_generation_create` makes one such solution per problem and queues them). Everything
else is the phase-2 machinery: the queue, overlap, leases, quality control and screening serve
these solutions like any other; the draft is `Labeling.steps` with the same `draft_revision`
(a stale save is a 409 carrying the stored draft), lease and time rules; submit is
`labeling.services.submission.assignment_submit`, which checks a phase-1 ending with
`labeling.phase1_rules.check_submit`.
"""

from django.db import transaction
from django.db.models import F, Max, Q, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from labeling import phase1_rules, prm800k, rating_rules
from labeling.errors import ApplicationError, NotFound
from labeling.models import (
    AlternativesStatus,
    Generation,
    GenerationItem,
    Grading,
    Labeling,
    LabelingStatus,
    Project,
    Solution,
)
from labeling.services.drafts import (
    NO_SUCH_ASSIGNMENT,
    DraftSaved,
    StaleDraft,
    check_draft,
    time_grown,
)
from labeling.services.leases import lease_minutes_until
from labeling.services.phase1_alternatives import (
    MAX_ALTERNATIVES,
    PRM800K_ALTERNATIVES,
    alternatives_fill,
    alternatives_for,
    alternatives_from_labelings,
    alternatives_request,
    alternatives_store,
    alternatives_wanted,
    prefix_hash,
)
from labeling.services.prm800k import steps_hash

__all__ = [
    "MAX_ALTERNATIVES",
    "PHASE1_SOURCE",
    "PRM800K_ALTERNATIVES",
    "Phase1Saved",
    "Phase1StaleDraft",
    "alternatives_fill",
    "alternatives_for",
    "alternatives_from_labelings",
    "alternatives_request",
    "alternatives_store",
    "alternatives_wanted",
    "is_phase1_task",
    "open_position",
    "phase1_draft_save",
    "phase1_generation_create",
    "phase1_task_state",
    "prefix_hash",
]

PHASE1_SOURCE = "phase1"  # Solution.source of the problem-only solutions phase-1 tasks label


def is_phase1_task(labeling: Labeling) -> bool:
    """A labeling of a solution with no pre-generated steps is made in phase-1 mode."""
    return not labeling.solution.steps


# --- phase-1 generations ----------------------------------------------------------------------


def phase1_generation_create(*, project: Project, problems=None) -> Generation:
    """Queue `problems` (default: every problem of the project) for phase-1 labeling: one
    problem-only solution each (no steps; not graded) in a new generation, numbered after the
    newest. ApplicationError when the project is not in phase-1 mode or there is no problem."""
    if not project.phase1_mode:
        raise ApplicationError("Turn on phase-1 mode in the project's settings first.")
    problems = list(problems if problems is not None else project.problems.order_by("id"))
    if not problems:
        raise ApplicationError("The project has no problems to queue for phase 1.")
    with transaction.atomic():
        newest = project.generations.aggregate(n=Max("number"))["n"]
        generation = Generation.objects.create(
            project=project,
            number=max(newest if newest is not None else -1, -1) + 1,
            strategy="phase1",
            params={"phase1": True, "alternatives": project.phase1_alternatives},
        )
        for rank, problem in enumerate(problems, start=1):
            solution, _ = Solution.objects.get_or_create(
                problem=problem,
                steps_hash=steps_hash([]),
                defaults={
                    "project": project,
                    "steps": [],
                    "source": PHASE1_SOURCE,
                    "grading": Grading.NO_ANSWER,
                },
            )
            GenerationItem.objects.create(generation=generation, solution=solution, rank=rank)
    return generation


# --- the task: its open position and the draft save -------------------------------------------


def open_position(
    *, problem_id: int, label_steps: list[dict], k: int, request: bool = True
) -> dict:
    """Where the annotator is: `{"position": i, "status": ready|pending|failed|done,
    "alternatives": [texts], "source": str}`. `done` once the final answer was continued with;
    a last step not yet continued shows its own (stored) alternatives; otherwise the
    alternatives after the path taken, requested from the generator (when `request`) if there
    are none."""
    position = len(label_steps)
    if phase1_rules.finish_reason_of(label_steps) == "solution":
        return {"position": position, "status": "done", "alternatives": [], "source": ""}
    if label_steps and not phase1_rules.is_continued(label_steps[-1]):
        last = label_steps[-1]
        texts = [c["text"] for c in last.get("completions") or ()]
        prefix = prm800k.trajectory(label_steps[:-1])
        row = alternatives_for(problem_id, prefix)
        source = row.source if row is not None else ""
        return {
            "position": position - 1,
            "status": "ready",
            "alternatives": texts,
            "source": source,
            "error": "",
        }
    prefix = prm800k.trajectory(label_steps)
    row = alternatives_for(problem_id, prefix)
    if row is None and request:
        row = alternatives_request(problem_id=problem_id, prefix=prefix, k=k)
    if row is None:
        return {"position": position, "status": "pending", "alternatives": [], "source": ""}
    return {
        "position": position,
        "status": row.status,
        "alternatives": list(row.texts) if row.status == AlternativesStatus.READY else [],
        "source": row.source,
        "error": row.error,
    }


def _alternatives_at(problem_id: int, stored: list[dict]):
    """`alternatives_at(i, prefix, shown)` for phase1_rules.build_label_steps: a position
    already in the stored draft on the same path keeps the alternatives stored there; a new one
    reads the store (ready alternatives only), unless the page showed none there (`shown` 0:
    it was waiting, and the annotator wrote their own step)."""
    stored_paths = [prm800k.trajectory(stored[:i]) for i in range(len(stored))]

    def at(i: int, prefix: list[str], shown: int | None = None) -> list[str]:
        if i < len(stored) and stored_paths[i] == prefix:
            return [c["text"] for c in stored[i].get("completions") or ()]
        if shown == 0:
            return []
        row = alternatives_for(problem_id, prefix)
        if row is None or row.status != AlternativesStatus.READY:
            return []
        return list(row.texts)

    return at


class Phase1StaleDraft(StaleDraft):
    """StaleDraft (409) whose `data.steps` are the stored draft's positions (the client's
    form, `phase1_rules.positions_of`)."""

    def __init__(self, revision: int, label_steps: list[dict]):
        super().__init__(revision, label_steps)
        self.data["steps"] = phase1_rules.positions_of(label_steps)


class Phase1Saved(DraftSaved):
    __slots__ = ("open",)


def phase1_draft_save(
    *, user_id: int, assignment_id: int, steps=None, total_time_ms=None, revision=None
) -> Phase1Saved:
    """Save the phase-1 draft `assignment_id` of user `user_id`: the positions `steps`
    (phase1_rules; None saves the time alone), the time (it only grows) and the lease, as
    `drafts.assignment_draft_save` does for phase 2: NotFound when it is not theirs (or not
    a phase-1 task), Conflict (409) once submitted or after the hold expired, Phase1StaleDraft
    (409, nothing written) when `revision` is older than the stored draft and the positions
    differ from the stored ones; positions equal to the stored ones change nothing but the time
    and lease. Returns the saved draft and `open` (`open_position`: the next alternatives,
    requested from the generator when the path taken has none)."""
    now = timezone.now()
    row = (
        Labeling.objects.filter(pk=assignment_id, labeler_id=user_id)
        .values_list(
            "status",
            "lease_expires_at",
            "total_time_ms",
            "solution__steps",
            "solution__problem_id",
            "project__lease_minutes",
            "project__phase1_alternatives",
            "steps",
            "draft_revision",
        )
        .first()
    )
    if row is None or row[3]:
        raise NotFound(NO_SUCH_ASSIGNMENT)
    status, lease_expires_at, current_time, _, problem_id, minutes, k, stored, stored_rev = row
    check_draft(status, lease_expires_at, now)
    new_lease = lease_minutes_until(minutes, now)
    fields = {"lease_expires_at": new_lease, "updated_at": now}
    label_steps, new_revision = stored, stored_rev
    if steps is not None:
        try:
            positions = phase1_rules.parse_positions(steps)
            built = phase1_rules.build_label_steps(positions, _alternatives_at(problem_id, stored))
        except rating_rules.DraftError as exc:
            # an unknown key is the request's own fault on any draft: 400, never 409
            stale = revision is not None and revision != stored_rev
            if stale and not isinstance(exc, rating_rules.UnknownFieldError):
                # positions made on an older draft (another tab took another path since):
                # the conflict, not the rule they break against the newer one, is the answer
                raise Phase1StaleDraft(stored_rev, stored) from None
            raise ApplicationError(str(exc)) from None
        if built != stored:
            if revision is not None and revision != stored_rev:
                raise Phase1StaleDraft(stored_rev, stored)
            label_steps, new_revision = built, stored_rev + 1
            fields["steps"] = built
            fields["draft_revision"] = new_revision
    new_time = current_time
    if total_time_ms is not None:
        value = time_grown(total_time_ms, 0)
        fields["total_time_ms"] = Greatest(Coalesce(F("total_time_ms"), Value(0)), Value(value))
        new_time = max(current_time or 0, value)
    query = Labeling.objects.filter(
        pk=assignment_id, labeler_id=user_id, status=LabelingStatus.DRAFT
    ).filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__gt=now))
    if "steps" in fields:
        query = query.filter(draft_revision=stored_rev)
    if not query.update(**fields):
        status, lease_expires_at, stored, stored_rev = (
            Labeling.objects.filter(pk=assignment_id)
            .values_list("status", "lease_expires_at", "steps", "draft_revision")
            .first()
        )
        check_draft(status, lease_expires_at, now)
        raise Phase1StaleDraft(stored_rev, stored)
    saved = Phase1Saved(label_steps, new_time, new_lease, new_revision)
    saved.open = open_position(problem_id=problem_id, label_steps=label_steps, k=k)
    return saved


def phase1_task_state(labeling: Labeling) -> dict:
    """What the phase-1 task page and API show: the problem and its reference answer, the
    annotator's own draft (`steps`: the stored label steps with their alternatives' texts,
    `positions`: the client's form) and the open position."""
    problem = labeling.solution.problem
    return {
        "id": labeling.pk,
        "mode": "phase1",
        "status": labeling.status,
        "project": labeling.project_id,
        "problem": {"text": problem.text, "reference_answer": problem.reference_answer},
        "draft": {
            "steps": prm800k.ordered_steps(labeling.steps),
            "positions": phase1_rules.positions_of(labeling.steps),
            "total_time_ms": labeling.total_time_ms or 0,
            "revision": labeling.draft_revision,
            "finish_reason": labeling.finish_reason,
            "reason": labeling.reason,
        },
        "open": open_position(
            problem_id=problem.pk,
            label_steps=labeling.steps,
            k=labeling.project.phase1_alternatives,
            request=labeling.status == LabelingStatus.DRAFT,
        ),
    }
