"""Grading candidate solutions: each final answer against its problem's reference answer, with
`labeling.grading.grade_answer` (exact numbers, symbolic equivalence; docs/formats.md).

Only solutions that need it are graded: `Solution.grading` is `pending` for new ones, and every
solution leaves that state once: `graded` (with `is_correct`), `no_reference` (its problem has
no reference answer), `no_answer` (no final answer), `given` (the source said whether it is
correct) or `failed` (the grader raised or timed out: `is_correct` stays null, unknown, never
wrong). None of those is looked at again until a regrade, so a pass over a pool of a million
solutions without reference answers costs nothing the second time.

In bulk and in parallel (issue 15): a pass is split into chunks of `GRADE_CHUNK` solutions by
id; on a worker, `solutions_grade_task` (queue `grading`) sends one chunk task per range, which
the `grading` worker's processes run side by side; the `grade_solutions` command grades in a
pool of processes. Within a chunk each distinct (answer, reference) pair is graded once (pools
repeat answers), results are written with one UPDATE per outcome, and each write only touches
rows still pending, so a chunk run twice changes nothing. Grading has its own queue so that it
never holds up imports and exports on `default`.

math-verify's timeouts are SIGALRM based, which works only in a process's main thread: Celery's
prefork workers, management commands and pool processes run tasks there. Elsewhere (a thread)
this refuses to run rather than risk an expression that never finishes.
"""

import logging
import multiprocessing
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable

from celery import shared_task
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from labeling.errors import ApplicationError
from labeling.grading import grade_pair
from labeling.models import Grading, Project, Solution

logger = logging.getLogger(__name__)

GRADE_CHUNK = 500  # solutions per chunk task: minutes at worst, and a lost chunk loses little
PENDING_MARKER_SECONDS = 15 * 60  # how long a dispatched pass keeps the watchdog off a project
OUTCOMES = ("correct", "wrong", "no_reference", "no_answer", "errors", "given")


def ungraded(project: Project):
    """Solutions waiting to be graded (the partial index `solution_grading_pending`)."""
    return Solution.objects.filter(project=project, grading=Grading.PENDING)


def _marker(project_id: int) -> str:
    return f"grading-pending:{project_id}"


# --- one chunk --------------------------------------------------------------------------------


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


def grade_rows(
    rows: Iterable[tuple[int, str | None, bool | None, str | None]],
    grade_pairs: Callable[[list[tuple[str, str]]], list[bool | None]] | None = None,
) -> dict[str, list[int]]:
    """Outcome -> solution ids for rows of (id, final answer, is_correct, reference answer).
    Each distinct (answer, reference) pair is graded once, by `grade_pairs` (default: here)."""
    outcomes: dict[str, list[int]] = {name: [] for name in OUTCOMES}
    to_grade: dict[tuple[str, str], list[int]] = {}
    for pk, answer, is_correct, reference in rows:
        if is_correct is not None:
            outcomes["given"].append(pk)  # made elsewhere with its correctness known
        elif _blank(reference):
            outcomes["no_reference"].append(pk)
        elif _blank(answer):
            outcomes["no_answer"].append(pk)
        else:
            to_grade.setdefault((answer, reference), []).append(pk)
    pairs = list(to_grade)
    results = (grade_pairs or (lambda p: [grade_pair(x) for x in p]))(pairs)
    for pair, result in zip(pairs, results, strict=True):
        name = "errors" if result is None else "correct" if result else "wrong"
        outcomes[name].extend(to_grade[pair])
    return outcomes


_WRITES = {
    # outcome: (grading state, is_correct, graded)
    "correct": (Grading.GRADED, True, True),
    "wrong": (Grading.GRADED, False, True),
    "no_reference": (Grading.NO_REFERENCE, None, False),
    "no_answer": (Grading.NO_ANSWER, None, False),
    "errors": (Grading.FAILED, None, False),
}


def _write(outcomes: dict[str, list[int]]) -> None:
    """One UPDATE per outcome; only rows still pending change (a chunk run twice, or a row
    regraded meanwhile, is left as it is)."""
    now = timezone.now()
    with transaction.atomic():
        for name, ids in outcomes.items():
            if not ids:
                continue
            pending = Solution.objects.filter(pk__in=ids, grading=Grading.PENDING)
            if name == "given":
                pending.update(grading=Grading.GIVEN, updated_at=now)
                continue
            state, is_correct, graded = _WRITES[name]
            pending.update(
                grading=state,
                is_correct=is_correct,
                graded_at=now if graded else None,
                updated_at=now,
            )


def solutions_grade_range(
    *, project_id: int, first_id: int, last_id: int, grade_pairs=None
) -> Counter:
    """Grade the pending solutions of a project with ids in [first_id, last_id]; returns the
    count of each outcome."""
    _require_main_thread()
    rows = list(
        Solution.objects.filter(
            project_id=project_id, grading=Grading.PENDING, pk__gte=first_id, pk__lte=last_id
        ).values_list("pk", "final_answer", "is_correct", "problem__reference_answer")
    )
    outcomes = grade_rows(rows, grade_pairs)
    _write(outcomes)
    return Counter({name: len(ids) for name, ids in outcomes.items()})


def _require_main_thread() -> None:
    if threading.current_thread() is not threading.main_thread():
        raise ApplicationError(
            "Grading must run in a process's main thread (math-verify's timeouts use signals): "
            "run it from a Celery prefork worker or the grade_solutions command."
        )


# --- a whole pass -----------------------------------------------------------------------------


def grading_reset(*, project: Project, solution_ids: list[int] | None = None) -> int:
    """Make a project's solutions (or some) pending again, e.g. after reference answers were
    corrected. Returns how many."""
    solutions = Solution.objects.filter(project=project)
    if solution_ids is not None:
        solutions = solutions.filter(pk__in=solution_ids)
    return solutions.exclude(grading=Grading.PENDING, is_correct__isnull=True).update(
        grading=Grading.PENDING, is_correct=None, graded_at=None, updated_at=timezone.now()
    )


def grading_chunks(project: Project, after_id: int = 0) -> list[tuple[int, int]]:
    """The id ranges [first, last] of GRADE_CHUNK pending solutions each, in id order (read
    from the partial index, ids only)."""
    ranges, first, count, last = [], None, 0, None
    ids = ungraded(project).filter(pk__gt=after_id).order_by("pk").values_list("pk", flat=True)
    for pk in ids.iterator(chunk_size=10_000):
        if first is None:
            first = pk
        count += 1
        last = pk
        if count == GRADE_CHUNK:
            ranges.append((first, last))
            first, count = None, 0
    if first is not None:
        ranges.append((first, last))
    return ranges


def solutions_grade(
    *,
    project: Project,
    solution_ids: list[int] | None = None,
    regrade: bool = False,
    processes: int = 1,
) -> dict:
    """Grade a project's pending solutions here (by default; `regrade`: all of them again, or
    `solution_ids`), `processes` at a time (a pool of processes, each grading in its main
    thread). Returns the count of each outcome."""
    _require_main_thread()
    if regrade:
        grading_reset(project=project, solution_ids=solution_ids)
    totals: Counter = Counter({name: 0 for name in OUTCOMES})
    pool = None
    if processes > 1:
        # `spawn`: fresh processes that import only the Django-free grader (none inherits the
        # database connection or the test's transaction)
        pool = multiprocessing.get_context("spawn").Pool(processes)
    try:
        grade_pairs = None
        if pool is not None:

            def grade_pairs(pairs):
                chunksize = max(1, len(pairs) // processes // 4)
                return pool.map(grade_pair, pairs, chunksize=chunksize)

        for first, last in grading_chunks(project):
            if solution_ids is not None:
                ids = [pk for pk in solution_ids if first <= pk <= last]
                if not ids:
                    continue
                first, last = min(ids), max(ids)
            totals += solutions_grade_range(
                project_id=project.pk, first_id=first, last_id=last, grade_pairs=grade_pairs
            )
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    counts = {name: totals[name] for name in OUTCOMES}
    if not counts["given"]:
        del counts["given"]
    return counts


def default_processes() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


# --- on the `grading` queue ---------------------------------------------------------------------

# The two tasks keep the names they had in labeling/tasks.py, so messages already queued and the
# routes in config/celery.py keep finding them. This module is imported by the app's ready()
# (active_learning/apps.py), so every worker registers them.


@shared_task(
    name="labeling.tasks.solutions_grade_task", acks_late=True, soft_time_limit=600, time_limit=660
)
def solutions_grade_task(project_id: int, regrade: bool = False) -> int:
    """Grade a project's pending candidate solutions (all of them with `regrade`): sends one
    `solutions_grade_chunk_task` per chunk, which the `grading` worker's processes run in
    parallel. Returns the number of chunks sent."""
    return grading_dispatch(project=Project.objects.get(pk=project_id), regrade=regrade)


@shared_task(
    name="labeling.tasks.solutions_grade_chunk_task",
    acks_late=True,
    soft_time_limit=3600,
    time_limit=3660,
)
def solutions_grade_chunk_task(project_id: int, first_id: int, last_id: int) -> dict:
    """Grade the pending solutions of a project with ids in [first_id, last_id]. Runs in the
    prefork child's main thread, where math-verify's signal-based timeouts work; the hard time
    limit is the backstop. Safe to run twice (only pending solutions are graded and written)."""
    try:
        return dict(
            solutions_grade_range(project_id=project_id, first_id=first_id, last_id=last_id)
        )
    finally:
        grading_chunk_done(project_id)


def grading_dispatch(*, project: Project, regrade: bool = False) -> int:
    """Send one chunk task per GRADE_CHUNK pending solutions to the `grading` queue; returns
    how many. The project's marker counts the chunks in flight: while there are some, a new
    request sends nothing (the chunks already queued cover the pending solutions; what an
    import adds meanwhile is sent by the watchdog once they are done), and a regrade sends
    everything again."""
    key = _marker(project.pk)
    if not regrade and (cache.get(key) or 0) > 0:
        logger.info("grading of project %s is in flight; nothing sent", project.pk)
        return 0
    if regrade:
        grading_reset(project=project)
    chunks = grading_chunks(project)
    if not chunks:
        cache.delete(key)
        return 0
    if not cache.add(key, len(chunks), timeout=PENDING_MARKER_SECONDS):
        try:
            cache.incr(key, len(chunks))
        except ValueError:  # expired in between
            cache.set(key, len(chunks), timeout=PENDING_MARKER_SECONDS)
    for first, last in chunks:
        solutions_grade_chunk_task.apply_async((project.pk, first, last))
    return len(chunks)


def grading_chunk_done(project_id: int) -> None:
    """A chunk task finished: count it off the project's marker (and keep the marker alive
    while a long pass goes on)."""
    key = _marker(project_id)
    try:
        left = cache.decr(key)
    except ValueError:  # no marker (expired, or a cache without it): nothing to count
        return
    if left <= 0:
        cache.delete(key)
    else:
        cache.touch(key, PENDING_MARKER_SECONDS)


def grading_enqueue(project_id: int, *, regrade: bool = False) -> bool:
    """Ask a `grading` worker to grade a project. False (and a log line) when the broker is
    down; the watchdog grades what is left once it is back."""
    try:
        solutions_grade_task.apply_async((project_id,), {"regrade": regrade}, retry=False)
    except Exception as exc:
        logger.warning("could not queue grading of project %s: %s", project_id, exc)
        return False
    return True


def grading_catch_up() -> list[int]:
    """The watchdog's part (every minute): queue grading for projects with pending solutions
    and no pass in flight, whichever way the solutions came in."""
    queued = []
    for project in Project.objects.filter(
        Q(pk__in=Solution.objects.filter(grading=Grading.PENDING).values("project_id"))
    ):
        if cache.add(_marker(project.pk), 0, timeout=PENDING_MARKER_SECONDS):
            if grading_enqueue(project.pk):
                queued.append(project.pk)
            else:
                cache.delete(_marker(project.pk))
    return queued
