"""Quality control: gold labels, scoring labelings against them, screening status, pausing."""

from django.db import connection, transaction
from django.db.models import Avg, Count
from django.utils import timezone

from labeling import gold_agreement
from labeling.errors import ApplicationError
from labeling.models import (
    Adjudication,
    FinishReason,
    Generation,
    GenerationItem,
    GoldLabel,
    Labeling,
    LabelingStatus,
    Membership,
    Project,
    ScreeningStatus,
    Solution,
    User,
)
from labeling.services.step_ratings import step_ratings_write


def gold_mark(*, labeling: Labeling, by: User | None = None) -> GoldLabel:
    """Make a submitted labeling the gold for its solution (replacing any earlier gold)."""
    if labeling.status != LabelingStatus.SUBMITTED:
        raise ApplicationError("Only a submitted labeling can be gold.")
    gold, _ = GoldLabel.objects.update_or_create(
        solution_id=labeling.solution_id, defaults={"labeling": labeling, "marked_by": by}
    )
    return gold


def gold_from_first_error(*, solution: Solution, first_error: int, labeler: User) -> GoldLabel:
    """Make an expert's first-error judgement the gold for `solution` (e.g. ProcessBench's
    `label`: the 0-based index of the first wrong step, -1 when every step is right).

    The gold is a submitted labeling by `labeler`, rated as a PRM800K phase-2 labeler would:
    every step before the first error Positive, the first error Negative and nothing after it
    (`found_error`); with no error, every step Positive (`solution`). Like an imported PRM800K
    quality-control record that became gold, it is marked quality control and belongs to no
    generation: it never counts towards a solution's overlap or the retrain trigger.
    Replaces an earlier gold.
    Raises ApplicationError when `first_error` is not a step of the solution."""
    if not -1 <= first_error < len(solution.steps):
        raise ApplicationError(
            f"first_error: {first_error} is not a step of solution {solution.pk} "
            f"({len(solution.steps)} steps; -1 = no error)"
        )
    rated = solution.steps if first_error == -1 else solution.steps[: first_error + 1]
    steps = [
        {
            "completions": [
                {"text": text, "rating": -1 if i == first_error else 1, "flagged": False}
            ],
            "human_completion": None,
            "chosen_completion": None if i == first_error else 0,
        }
        for i, text in enumerate(rated)
    ]
    with transaction.atomic():
        labeling = Labeling.objects.create(
            project_id=solution.project_id,
            solution=solution,
            labeler=labeler,
            status=LabelingStatus.SUBMITTED,
            finish_reason=FinishReason.SOLUTION if first_error == -1 else FinishReason.FOUND_ERROR,
            submitted_at=timezone.now(),
            steps=steps,
            is_quality_control=True,
        )
        step_ratings_write(labeling=labeling)
        return gold_mark(labeling=labeling, by=labeler)


def gold_from_quality_control_records(project: Project) -> int:
    """Imported PRM800K quality-control records become gold for solutions that have none
    (the earliest record per solution). Returns how many gold labels were made."""
    made = 0
    with transaction.atomic():
        records = (
            Labeling.objects.filter(
                project=project, is_quality_control=True, status=LabelingStatus.SUBMITTED
            )
            .exclude(solution__gold__isnull=False)
            .order_by("solution_id", "id")
        )
        seen = set()
        for labeling in records:
            if labeling.solution_id in seen:
                continue
            seen.add(labeling.solution_id)
            GoldLabel.objects.create(solution_id=labeling.solution_id, labeling=labeling)
            made += 1
    return made


# Endings that stop before the answer: scored by gave_up_counts (docs/statistics.md).
GAVE_UP = frozenset({FinishReason.GIVE_UP, FinishReason.BAD_PROBLEM})


def gave_up_counts(gold_steps: list, steps: list, phase1: bool) -> tuple[int, int]:
    """(equal, compared) of a gold or screening answer given up or reported bad, with
    compared >= 1. Phase 2 (one fixed path): every step gold rated is compared, and each one the
    answer left unrated counts as disagreeing, so stopping early never scores above rating
    the remaining steps; an answer with no rating is wrong on all of them (the breaker's
    "gave up on both screening questions and passed with 1.00"). Phase 1 (paths differ by
    design): the proposals both rated, as for any phase-1 answer; none shared counts as
    disagreeing on every proposal gold rated (at least one)."""
    if phase1:
        equal, compared = gold_agreement.agreement_counts(gold_steps, steps, phase1=True)
        if compared:
            return equal, compared
        return 0, max(gold_agreement.agreement_counts(gold_steps, gold_steps, phase1=True)[1], 1)
    gold = gold_agreement.first_ratings(gold_steps)
    given = gold_agreement.first_ratings(steps)
    rated = [i for i, rating in enumerate(gold) if rating is not None]
    equal = sum(1 for i in rated if i < len(given) and given[i] == gold[i])
    return equal, max(len(rated), 1)


def labeling_score_against_gold(labeling: Labeling) -> None:
    """Fill a QC or screening labeling's agreement with its solution's gold (if any); one given
    up or reported bad scores 0 (no agreement, first error not matched)."""
    gold = GoldLabel.objects.filter(solution_id=labeling.solution_id).select_related("labeling")
    gold = gold.first()
    if gold is None:
        return
    phase1 = not labeling.solution.steps
    if labeling.finish_reason in GAVE_UP:  # first error not found; see gave_up_counts
        equal, compared = gave_up_counts(gold.labeling.steps, labeling.steps, phase1)
        agreement, first_match = equal / compared, False
    else:
        agreement, first_match = gold_agreement.score_labeling(
            gold.labeling.steps, labeling.steps, phase1=phase1
        )
    labeling.gold_agreement = agreement
    labeling.gold_first_error_match = first_match
    labeling.save(update_fields=["gold_agreement", "gold_first_error_match", "updated_at"])


def screening_status_update(membership: Membership) -> None:
    """Pass or fail once every screening question is answered: pooled step agreement with gold
    against the project's pass mark. A question given up or reported bad counts as disagreeing
    on every step gold rated (at least one), so giving up never helps to pass."""
    project = membership.project
    questions = GenerationItem.objects.filter(
        generation__project=project,
        generation__number=Generation.SCREENING,
        solution__gold__isnull=False,
    ).values("solution_id")
    answers = Labeling.objects.filter(
        project=project,
        labeler=membership.user,
        is_screening=True,
        status=LabelingStatus.SUBMITTED,
        solution_id__in=questions,
    )
    if answers.values("solution_id").distinct().count() < questions.count():
        return
    equal = compared = 0
    for answer in answers.select_related("solution__gold__labeling"):
        gold, phase1 = answer.solution.gold.labeling.steps, not answer.solution.steps
        if answer.finish_reason in GAVE_UP:
            e, c = gave_up_counts(gold, answer.steps, phase1)
        else:
            e, c = gold_agreement.agreement_counts(gold, answer.steps, phase1=phase1)
        equal, compared = equal + e, compared + c
    score = equal / compared if compared else 0.0
    membership.screening_score = score
    membership.screening_status = (
        ScreeningStatus.PASSED if score >= project.screening_pass_mark else ScreeningStatus.FAILED
    )
    membership.save(update_fields=["screening_score", "screening_status", "updated_at"])


def quality_control_check_pause(membership: Membership) -> None:
    """Pause an annotator whose QC agreement fell below the project's threshold (if set)."""
    project = membership.project
    if project.qc_pause_threshold is None:
        return
    stats = Labeling.objects.filter(
        project=project,
        labeler=membership.user,
        is_quality_control=True,
        status=LabelingStatus.SUBMITTED,
        gold_agreement__isnull=False,
    ).aggregate(n=Count("id"), mean=Avg("gold_agreement"))
    if stats["n"] >= project.qc_pause_min_questions and stats["mean"] < project.qc_pause_threshold:
        membership.paused = True
        membership.save(update_fields=["paused", "updated_at"])


def generation_items_recount(project: Project, *, generation_id: int | None = None) -> None:
    """Recompute each generation item's submitted count and open flag from the labelings
    (after imports and when the overlap changes); only generation `generation_id`'s when given.
    A disagreement-queue item (`wanted` set) of an adjudicated solution stays closed: the
    ruling settled it (labeling.services.adjudication).

    One set-based UPDATE: the counts come from one GROUP BY over the project's labelings, joined
    to its items (a correlated count per item degenerates into an index scan per item inside a
    large import). Only rows whose values change are written."""
    item_table = GenerationItem._meta.db_table
    sql = f"""
        UPDATE {item_table}
        SET submitted_count = fresh.n, is_open = (fresh.n < fresh.wanted AND NOT fresh.ruled)
        FROM (
            SELECT item.id AS item_id, COALESCE(counted.n, 0) AS n,
                COALESCE(item.wanted, %(overlap)s) AS wanted,
                (item.wanted IS NOT NULL AND EXISTS (
                    SELECT 1 FROM {Adjudication._meta.db_table} AS ruling
                    WHERE ruling.solution_id = item.solution_id)) AS ruled
            FROM {item_table} AS item
            JOIN {Generation._meta.db_table} AS generation
                ON generation.id = item.generation_id
            LEFT JOIN (
                SELECT generation_id, solution_id, COUNT(*) AS n
                FROM {Labeling._meta.db_table}
                WHERE project_id = %(project)s
                    AND generation_id IS NOT NULL
                    AND status = %(submitted)s
                    AND NOT is_quality_control
                    AND NOT is_screening
                GROUP BY generation_id, solution_id
            ) AS counted
                ON counted.generation_id = item.generation_id
                AND counted.solution_id = item.solution_id
            WHERE generation.project_id = %(project)s
                AND (%(generation)s IS NULL OR generation.id = %(generation)s)
        ) AS fresh
        WHERE {item_table}.id = fresh.item_id
            AND ({item_table}.submitted_count <> fresh.n
                OR {item_table}.is_open <> (fresh.n < fresh.wanted AND NOT fresh.ruled))
    """
    params = {
        "overlap": project.overlap,
        "project": project.pk,
        "submitted": LabelingStatus.SUBMITTED.value,
        "generation": generation_id,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
