"""The disagreement queue (issue 19, docs/model-assisted.md): after a run publishes a new
generation with a new PRM, the labeled solutions its rule names
(labeling/disagreement_rules.py) are added to that generation as items wanting one more
labeling (`GenerationItem.wanted = 1`, so a solution with `overlap` labelings gets
overlap + 1; the next-task rule never gives it to someone who labeled it already), up to the
project's budget per generation. The loop calls `disagreement_queue_fill` from its publish
stage (active_learning/loop/stages/publish.py) with the new model's stored step scores.
"""

from collections import defaultdict

from django.db import transaction
from django.db.models import Exists, Max, OuterRef

from labeling import disagreement_rules
from labeling.gold_agreement import first_ratings
from labeling.models import (
    Adjudication,
    DisagreementItem,
    Generation,
    GenerationItem,
    GoldLabel,
    Labeling,
    LabelingStatus,
    Project,
)


def _first_error(steps) -> int:
    return next((i for i, r in enumerate(first_ratings(steps or [])) if r == -1), -1)


def labeled_solution_ids(project: Project) -> list[int]:
    """Solutions with a submitted regular labeling (not quality control or screening, not a
    gold solution): what the rule looks at, and what the loop scores for it."""
    gold = GoldLabel.objects.filter(solution__project=project).values("solution_id")
    return list(
        Labeling.objects.filter(
            project=project,
            status=LabelingStatus.SUBMITTED,
            is_quality_control=False,
            is_screening=False,
        )
        .exclude(solution_id__in=gold)
        .values_list("solution_id", flat=True)
        .distinct()
        .order_by("solution_id")
    )


def human_first_errors(project: Project) -> dict[int, list[int]]:
    """{solution id: first errors of its submitted regular labelings, in labeling id order}
    (0-based first Negative of the first completions; -1: none), for labelings that ended
    `found_error` or `solution` (give-ups and bad problems name no first error)."""
    firsts: dict[int, list[int]] = defaultdict(list)
    rows = (
        Labeling.objects.filter(
            project=project,
            status=LabelingStatus.SUBMITTED,
            is_quality_control=False,
            is_screening=False,
            finish_reason__in=["found_error", "solution"],
        )
        .order_by("id")
        .values_list("solution_id", "steps")
    )
    for solution_id, steps in rows.iterator(chunk_size=2000):
        firsts[solution_id].append(_first_error(steps))
    return dict(firsts)


def disagreement_queue_fill(
    *,
    generation: Generation,
    model_version_id: int | None,
    step_scores: dict[int, list[float]],
) -> list[DisagreementItem]:
    """Queue, in `generation`, the solutions the rule picks with the project's
    `disagreement_k`, `disagreement_confidence` and `disagreement_budget` (0: nothing), given
    the new model's `step_scores` ({solution id: per-step 1 - P(negative)}; a solution it did
    not score can still be queued because annotators disagree). Solutions already in the
    generation, gold solutions, adjudicated solutions and solutions an earlier run queued that
    got their one more labeling are left out (one still waiting in an older generation, which
    is no longer served, may be queued again). Returns the new items. The budget counts the
    items the generation has already, so a second run for the same generation adds nothing."""
    project = generation.project
    if project.disagreement_budget == 0:
        return []
    in_generation = set(
        GenerationItem.objects.filter(generation=generation).values_list("solution_id", flat=True)
    )
    gold = set(
        GoldLabel.objects.filter(solution__project=project).values_list("solution_id", flat=True)
    )
    # overlap + 1 in all: a solution an earlier run queued that got its one more labeling is
    # not queued again (that would be overlap + 2, and spend the budget on it again). One still
    # waiting may be: only the newest generation is served, so its old item never will be.
    extra = Labeling.objects.filter(
        generation_id=OuterRef("generation_id"),
        solution_id=OuterRef("solution_id"),
        status=LabelingStatus.SUBMITTED,
        is_quality_control=False,
        is_screening=False,
    )
    relabeled = set(
        DisagreementItem.objects.filter(project=project)
        .filter(Exists(extra))
        .values_list("solution_id", flat=True)
    )
    # a lead's ruling settles the solution: training uses it, another labeling would not count
    adjudicated = set(
        Adjudication.objects.filter(project=project).values_list("solution_id", flat=True)
    )
    left_out = in_generation | gold | relabeled | adjudicated
    steps_of = dict(
        project.solutions.filter(labelings__status=LabelingStatus.SUBMITTED)
        .values_list("pk", "steps")
        .distinct()
    )
    labeled = [
        disagreement_rules.Labeled(
            solution_id=solution_id,
            steps=len(steps_of.get(solution_id) or []),
            human_first_errors=firsts,
            step_scores=step_scores.get(solution_id),
        )
        for solution_id, firsts in sorted(human_first_errors(project).items())
        if solution_id not in left_out
    ]
    picks = disagreement_rules.pick(
        labeled,
        k=project.disagreement_k,
        confidence=project.disagreement_confidence,
        # the budget is per generation: a rerun (a retried publish) adds nothing
        budget=max(
            0,
            project.disagreement_budget
            - DisagreementItem.objects.filter(generation=generation).count(),
        ),
    )
    with transaction.atomic():
        last = GenerationItem.objects.filter(generation=generation).aggregate(m=Max("rank"))["m"]
        start = -1 if last is None else last
        GenerationItem.objects.bulk_create(
            [
                GenerationItem(
                    generation=generation,
                    solution_id=p.solution_id,
                    rank=start + 1 + i,
                    wanted=1,
                )
                for i, p in enumerate(picks)
            ],
            ignore_conflicts=True,
        )
        items = DisagreementItem.objects.bulk_create(
            [
                DisagreementItem(
                    project=project,
                    generation=generation,
                    solution_id=p.solution_id,
                    model_version=model_version_id,
                    reason=p.reason,
                    strength=p.strength,
                    detail=p.detail,
                )
                for p in picks
            ],
            ignore_conflicts=True,
        )
    return items


def disagreement_outcome(
    item: DisagreementItem,
    firsts: list[int],
    adjudicated_first_error: int | None = None,
    *,
    relabeled: bool | None = None,
    served: bool = True,
) -> dict:
    """What became of a queued solution: `{"status", "majority_first_error",
    "adjudicated_first_error", "agrees_with_model"}`, the first that holds of:

    - `adjudicated` when a lead has ruled on its first error (`adjudicated_first_error`, -1:
      none): the ruling decides who was right, whatever the labelings say;
    - `majority` / `no_majority` once its one more labeling was submitted (`relabeled`; None:
      look for a submitted regular labeling in the item's generation): `majority` when more
      than half of its labelings' first errors (`firsts`, -1: none) agree
      (`majority_first_error`);
    - `not_served` when it can no longer be served (`served` False: its generation is not the
      newest, or its queue item was closed) and so will never get the extra labeling;
    - `pending` otherwise: waiting for its one more labeling.

    `agrees_with_model`: whether the ruling or the majority is the PRM's first error (None
    when the model did not score it, or there is neither)."""
    from collections import Counter

    prm = item.detail.get("prm_first_error")
    if adjudicated_first_error is not None:
        return {
            "status": "adjudicated",
            "majority_first_error": None,
            "adjudicated_first_error": adjudicated_first_error,
            "agrees_with_model": None if prm is None else adjudicated_first_error == prm,
        }
    undecided = {"majority_first_error": None, "adjudicated_first_error": None}
    if relabeled is None:
        relabeled = Labeling.objects.filter(
            generation_id=item.generation_id,
            solution_id=item.solution_id,
            status=LabelingStatus.SUBMITTED,
            is_quality_control=False,
            is_screening=False,
        ).exists()
    if not relabeled:
        status = "pending" if served else "not_served"
        return {"status": status, **undecided, "agrees_with_model": None}
    value, count = Counter(firsts).most_common(1)[0] if firsts else (None, 0)
    if count * 2 <= len(firsts):
        return {"status": "no_majority", **undecided, "agrees_with_model": None}
    return {
        "status": "majority",
        "majority_first_error": value,
        "adjudicated_first_error": None,
        "agrees_with_model": None if prm is None else value == prm,
    }
