"""PRM800K phase 1: the store of proposed next steps (docs/phase1.md, "Where the proposals
come from").

`NextStepAlternatives` holds the proposals per point (a problem and the steps so far). They are
imported from PRM800K phase-1 records (`alternatives_from_labelings`), stored by a generator
ahead of time (`alternatives_store`), or requested when an annotator reaches a point that has
none (`alternatives_request`, which fires `labeling.hooks.next_steps_wanted`; a generator
answers with `alternatives_fill`, or finds what is wanted with `alternatives_wanted`). Once
ready, a point's proposals never change.
"""

import hashlib
import json

from django.db import IntegrityError, transaction

from labeling import hooks, prm800k
from labeling.errors import ApplicationError, NotFound
from labeling.models import (
    AlternativesStatus,
    Labeling,
    NextStepAlternatives,
    Problem,
    Project,
)
from labeling.services.prm800k_fields import SOURCE_PHASE1
from labeling.text_policy import TextError, check_text, is_blank

PRM800K_ALTERNATIVES = "PRM800K phase-1 record"  # NextStepAlternatives.source of imported ones
MAX_ALTERNATIVE_LENGTH = 5000  # characters of one proposed step
MAX_ALTERNATIVES = 16  # proposed steps at one point (PRM800K showed up to 7)


def prefix_hash(prefix: list[str]) -> str:
    """sha256 of `json.dumps(prefix)`: the key of a point of a problem's solution."""
    return hashlib.sha256(json.dumps(prefix).encode("utf-8")).hexdigest()


def _checked_texts(texts, where: str) -> list[str]:
    if not isinstance(texts, list) or not texts:
        raise ApplicationError(f"{where}: must be a non-empty list of step texts")
    if len(texts) > MAX_ALTERNATIVES:
        raise ApplicationError(f"{where}: {len(texts)} steps; at most {MAX_ALTERNATIVES}")
    for i, text in enumerate(texts):
        if not isinstance(text, str) or is_blank(text):
            raise ApplicationError(f"{where}[{i}]: must be a non-empty string")
        try:
            check_text(text, f"{where}[{i}]", MAX_ALTERNATIVE_LENGTH)
        except TextError as exc:
            raise ApplicationError(str(exc)) from None
    return list(texts)


def alternatives_for(problem_id: int, prefix: list[str]) -> NextStepAlternatives | None:
    return NextStepAlternatives.objects.filter(
        problem_id=problem_id, prefix_hash=prefix_hash(prefix)
    ).first()


def alternatives_store(
    *, problem: Problem, prefix: list[str], texts: list[str], source: str
) -> tuple[NextStepAlternatives, bool]:
    """Store ready alternatives for (problem, prefix) ahead of time; (row, created). A point
    that already has ready alternatives keeps them (what annotators saw never changes); a
    pending request there is filled. ApplicationError for empty, too many or bad texts."""
    texts = _checked_texts(texts, "texts")
    with transaction.atomic():
        row = (
            NextStepAlternatives.objects.select_for_update()
            .filter(problem=problem, prefix_hash=prefix_hash(prefix))
            .first()
        )
        if row is None:
            row = NextStepAlternatives.objects.create(
                project_id=problem.project_id,
                problem=problem,
                prefix_hash=prefix_hash(prefix),
                prefix=prefix,
                texts=texts,
                source=source[:200],
            )
            return row, True
        if row.status != AlternativesStatus.READY:
            row.texts, row.status, row.source, row.error = texts, "ready", source[:200], ""
            row.save(update_fields=["texts", "status", "source", "error", "updated_at"])
            return row, True
    return row, False


def alternatives_request(*, problem_id: int, prefix: list[str], k: int) -> NextStepAlternatives:
    """The alternatives for (problem, prefix), asking the generator for `k` when there are
    none: a pending row is made and `hooks.next_steps_wanted(project_id, alternatives_id, k)`
    fires after the commit. Idempotent: a second request finds the row (one per point)."""
    row = alternatives_for(problem_id, prefix)
    if row is not None:
        return row
    project_id = Problem.objects.values_list("project_id", flat=True).get(pk=problem_id)
    try:
        with transaction.atomic():
            row = NextStepAlternatives.objects.create(
                project_id=project_id,
                problem_id=problem_id,
                prefix_hash=prefix_hash(prefix),
                prefix=prefix,
                status=AlternativesStatus.PENDING,
                requested=k,
            )
    except IntegrityError:  # another request for the same point won the race
        return alternatives_for(problem_id, prefix)
    row_id = row.pk
    transaction.on_commit(
        lambda: hooks.next_steps_wanted.fire(project_id, alternatives_id=row_id, k=k)
    )
    return row


def alternatives_fill(
    *, alternatives_id: int, texts: list[str] | None = None, source: str = "", error: str = ""
) -> NextStepAlternatives:
    """Answer a request: `texts` make it ready, or `error` (no texts) marks it failed (the
    annotator's page says so and they write their own step). NotFound for no such row;
    ApplicationError when it is already ready or the texts are bad."""
    with transaction.atomic():
        row = NextStepAlternatives.objects.select_for_update().filter(pk=alternatives_id).first()
        if row is None:
            raise NotFound("No such request for alternatives.")
        if row.status == AlternativesStatus.READY:
            raise ApplicationError("These alternatives are already ready; they never change.")
        if texts is None:
            row.status, row.error = AlternativesStatus.FAILED, (error or "failed")[:2000]
        else:
            row.texts = _checked_texts(texts, "texts")
            row.status, row.error = AlternativesStatus.READY, ""
        row.source = source[:200]
        row.save(update_fields=["texts", "status", "source", "error", "updated_at"])
    return row


def alternatives_wanted(*, project_id: int | None = None, limit: int = 100) -> list[dict]:
    """The pending requests, oldest first (for a generator that polls instead of, or after,
    subscribing to `hooks.next_steps_wanted`): `[{"id", "project_id", "problem", "prefix",
    "k"}]`, where `problem` is the problem text, `prefix` the steps so far and `k` how many next
    steps are wanted. Answer each with `alternatives_fill(alternatives_id=id, ...)`."""
    rows = NextStepAlternatives.objects.filter(status=AlternativesStatus.PENDING)
    if project_id is not None:
        rows = rows.filter(project_id=project_id)
    return [
        {"id": pk, "project_id": project, "problem": text, "prefix": prefix, "k": k}
        for pk, project, text, prefix, k in rows.order_by("id").values_list(
            "pk", "project_id", "problem__text", "prefix", "requested"
        )[:limit]
    ]


def alternatives_from_labelings(*, project: Project) -> int:
    """Store, as ready alternatives, the completions shown at every step of the project's
    imported PRM800K phase-1 labelings, keyed by the path their labeler had taken (the
    trajectory before the step). Returns how many points were new. The first labeling (by id)
    to reach a point gives its alternatives."""
    created = 0
    labelings = (
        Labeling.objects.filter(project=project, solution__source=SOURCE_PHASE1)
        .exclude(source_hash=None)
        .order_by("id")
        .values_list("solution__problem_id", "steps")
    )
    problems = {p.pk: p for p in Problem.objects.filter(project=project)}
    for problem_id, steps in labelings.iterator(chunk_size=200):
        prefix: list[str] = []
        for step in prm800k.ordered_steps(steps):
            texts = [c["text"] for c in step.get("completions") or ()]
            if texts and all(isinstance(t, str) and t.strip() for t in texts):
                _, new = alternatives_store(
                    problem=problems[problem_id],
                    prefix=list(prefix),
                    texts=texts[:MAX_ALTERNATIVES],
                    source=PRM800K_ALTERNATIVES,
                )
                created += new
            followed = prm800k.trajectory([step])
            if not followed:
                break
            prefix.append(followed[0])
    return created
