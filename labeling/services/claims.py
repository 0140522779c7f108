"""Claiming an open item of the regular queue (step 4 of the next-task rule in
labeling/services/assignments.py) when many annotators ask at once: a one-round claim of the
best candidate (`claim_fast`: lock, recount and insert in one statement on PostgreSQL), else the
general path (`next_regular`) that tries candidates in priority order, skipping locked rows and
then waiting for them rather than answering "nothing left" while slots may free up."""

from django.db import connection, transaction

from labeling import hot_sql
from labeling.models import GenerationItem, GoldLabel, Labeling, LabelingStatus, Solution
from labeling.services.leases import (
    draft_build,
    lock_solution,
    lock_solution_blocking,
    new_draft,
    slots_taken,
    slots_wanted,
)

CANDIDATES_PER_TRY = 20  # open items fetched at once; contention past that is rare
FAST_TRIES = 3  # candidates the one-round claim tries before the general path takes over


_CANDIDATES_SQL = """
SELECT gi.solution_id, gi.score FROM {item} gi{join}
WHERE gi.generation_id = %s AND gi.is_open
  AND NOT EXISTS (SELECT 1 FROM {labeling} m WHERE m.labeler_id = %s
                  AND m.solution_id = gi.solution_id)
  AND NOT EXISTS (SELECT 1 FROM {gold} g WHERE g.solution_id = gi.solution_id)
  AND gi.submitted_count + (
      SELECT COUNT(*) FROM {labeling} d WHERE d.solution_id = gi.solution_id
      AND d.status = %s AND d.lease_expires_at > %s
      AND NOT d.is_quality_control AND NOT d.is_screening) < COALESCE(gi.wanted, %s)
  {tried}
ORDER BY gi.rank, gi.solution_id
LIMIT %s{lock}"""

# The slots of one solution that are taken: as slots_taken, in SQL.
_SLOTS_TAKEN_SQL = """(SELECT COUNT(*) FROM {labeling} d WHERE d.solution_id = %s
  AND NOT d.is_quality_control AND NOT d.is_screening
  AND ((d.status = %s AND d.generation_id = %s) OR (d.status = %s AND d.lease_expires_at > %s)))"""


def _candidates(
    user, project, generation_id, now, tried, *, limit=CANDIDATES_PER_TRY, lock=False
) -> list[tuple[int, float | None]]:
    """Open items of the generation, best first, that the user never had, that are not gold,
    and whose submitted labelings plus live drafts are under the overlap, as (solution id,
    score). Plain SQL: the statement is the same on every request, and building it with the ORM
    cost more CPU than running it (it runs in well under a millisecond on the partial index of
    open items). With `lock` (PostgreSQL) the solution rows returned are locked, skipping rows
    that other transactions hold: `limit` candidates that nobody else is claiming."""
    lock = lock and connection.features.has_select_for_update_skip_locked
    sql = _CANDIDATES_SQL.format(
        item=GenerationItem._meta.db_table,
        labeling=Labeling._meta.db_table,
        gold=GoldLabel._meta.db_table,
        tried=f"AND gi.solution_id NOT IN ({', '.join(['%s'] * len(tried))})" if tried else "",
        join=f" JOIN {Solution._meta.db_table} s ON s.id = gi.solution_id" if lock else "",
        lock="\nFOR UPDATE OF s SKIP LOCKED" if lock else "",
    )
    params = [
        generation_id,
        user.pk,
        LabelingStatus.DRAFT.value,
        connection.ops.adapt_datetimefield_value(now),
        project.overlap,
        *tried,
        limit,
    ]
    with hot_sql.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def claim_fast(user, project, generation_id, now) -> Labeling | None:
    """The usual case in two statements: lock the best free candidate (skipping the ones other
    requests are claiming), then insert the draft on the condition, re-checked under the lock
    by a statement that sees every claim committed before it, that the solution's slots are not
    all taken. None when no candidate could be locked or FAST_TRIES of them were full: then
    the general path (next_regular) decides, waiting for locks rather than answering "nothing
    left" while work remains. Runs inside the caller's transaction, which keeps the lock until
    the draft is committed."""
    tried: list[int] = []
    for _ in range(FAST_TRIES):
        rows = _candidates(user, project, generation_id, now, tried, limit=1, lock=True)
        if not rows:
            return None
        solution_id, score = rows[0]
        labeling = _insert_draft_if_free(user, project, generation_id, now, solution_id, score)
        if labeling is not None:
            return labeling
        tried.append(solution_id)  # filled by a claim that committed meanwhile
    return None


_insert_statements: dict[str, tuple[list, str]] = {}


def _insert_statement() -> tuple[list, str]:
    """(the fields written, the SQL) of _insert_draft_if_free's INSERT for this connection's
    database: built once per process, since it depends only on the model and the vendor
    (building it, type casts included, cost more CPU per request than running it)."""
    built = _insert_statements.get(connection.vendor)
    if built is not None:
        return built
    fields = [f for f in Labeling._meta.local_concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    table = Labeling._meta.db_table
    # a SELECT list gives PostgreSQL no column to infer a (prepared) parameter's type from
    casts = [
        f"%s::{f.cast_db_type(connection)}" if connection.vendor == "postgresql" else "%s"
        for f in fields
    ]
    sql = (
        f"INSERT INTO {quote(table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"SELECT {', '.join(casts)} "
        # the slots wanted: the generation item's own `wanted` (a disagreement-queue item wants
        # one more labeling), else the project's overlap
        f"WHERE {_SLOTS_TAKEN_SQL.format(labeling=quote(table))} < COALESCE(("
        f"SELECT gi.wanted FROM {quote(GenerationItem._meta.db_table)} gi "
        "WHERE gi.generation_id = %s AND gi.solution_id = %s), %s) "
        f"RETURNING {quote(Labeling._meta.pk.column)}"
    )
    built = _insert_statements[connection.vendor] = (fields, sql)
    return built


def _insert_draft_if_free(user, project, generation_id, now, solution_id, score):
    """INSERT ... SELECT ... WHERE <slots taken> < overlap RETURNING id: the draft, or None
    when the solution's slots are all taken. The column list comes from the model, so a new
    field is written with its default as Model.save would."""
    labeling = draft_build(
        user=user,
        project=project,
        solution_id=solution_id,
        generation_id=generation_id,
        now=now,
        score=score,
    )
    fields, sql = _insert_statement()
    values = [f.get_db_prep_save(f.pre_save(labeling, True), connection) for f in fields]
    params = [
        *values,
        solution_id,
        LabelingStatus.SUBMITTED.value,
        generation_id,
        LabelingStatus.DRAFT.value,
        connection.ops.adapt_datetimefield_value(now),
        generation_id,
        solution_id,
        project.overlap,
    ]
    with hot_sql.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    labeling.pk = row[0]
    labeling._state.adding = False
    labeling._state.db = connection.alias
    return labeling


def next_regular(user, project, generation_id, now) -> Labeling | None:
    tried: set[int] = set()
    busy: list[tuple[int, float | None]] = []
    while True:
        batch = _candidates(user, project, generation_id, now, sorted(tried))
        if not batch:
            break
        for solution_id, score in batch:
            tried.add(solution_id)
            try:
                return _claim(user, project, generation_id, now, solution_id, score, wait=False)
            except _Busy:
                busy.append((solution_id, score))  # being given to someone else right now
            except _Full:
                pass
    # Everything free was locked by concurrent requests: wait for those locks in turn rather
    # than answer "nothing left" while work remains.
    for solution_id, score in busy:
        try:
            return _claim(user, project, generation_id, now, solution_id, score, wait=True)
        except _Full:
            pass
    return None


class _Busy(Exception):
    pass


class _Full(Exception):
    pass


def _claim(user, project, generation_id, now, solution_id, score, *, wait: bool) -> Labeling:
    """Lock the solution, recount its slots, and make the draft. Runs in a savepoint, so a
    candidate that cannot be used releases its lock at once (holding it while trying the next
    one could deadlock with a request doing the same in the other order)."""
    with transaction.atomic():
        if wait:
            lock_solution_blocking(solution_id)
        elif not lock_solution(solution_id):
            raise _Busy
        if slots_taken(solution_id, generation_id, now) >= slots_wanted(
            project, generation_id, solution_id
        ):
            raise _Full
        return new_draft(
            user=user,
            project=project,
            solution_id=solution_id,
            generation_id=generation_id,
            now=now,
            score=score,
        )
