"""The set-based half of the solution import: a temporary staging table and the few statements
that turn its rows into problems, solutions and generation items.

The same SQL runs on PostgreSQL and SQLite (both have temporary tables, window functions and
`ON CONFLICT DO NOTHING`); only the loading differs: COPY on PostgreSQL, batched inserts on
SQLite. Every statement works on the whole file at once and touches the project's tables through
their indexes only: problems by (project, text hash), solutions by (problem, steps hash) — the
project is never loaded into memory, so an import into a project of a million solutions costs
what an import into an empty one does.
"""

from collections.abc import Iterable

from django.db import connection
from django.db.models import Max
from django.utils import timezone

from labeling.bulk_insert import analyze
from labeling.models import Generation, GenerationItem, Grading, Problem, Project, Solution
from labeling.services.quality import generation_items_recount

# The columns whose planner statistics matter (filters and joins), not the wide texts.
PROBLEM_STATISTICS = ("project", "text_hash", "external_id", "reference_answer")
SOLUTION_STATISTICS = ("project", "problem", "steps_hash", "grading", "is_correct", "prm_score")
STAGE = "solution_import_stage"
KEYS = "solution_import_keys"
SQLITE_BATCH = 2000  # rows per executemany on SQLite
WORK_MEM = "64MB"  # PostgreSQL: per sort or hash of the import's statements

# (name, PostgreSQL type, SQLite type); `ord` is the record's position in the file
COLUMNS = (
    ("ord", "bigint", "integer"),
    ("location", "text", "text"),
    ("problem_hash", "text", "text"),
    ("problem_text", "text", "text"),
    ("ref_problem_id", "bigint", "integer"),
    ("ref_external_id", "text", "text"),
    ("reference_answer", "text", "text"),
    ("steps", "jsonb", "text"),
    ("steps_hash", "text", "text"),
    ("final_answer", "text", "text"),
    ("generator", "text", "text"),
    ("source", "text", "text"),
    ("external_id", "text", "text"),
    ("is_correct", "boolean", "integer"),
    ("metadata", "jsonb", "text"),
)


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


class StagedImport:
    """One file's solutions on their way into `project` (inside the caller's transaction)."""

    def __init__(self, project: Project):
        self.project = project
        self.postgres = connection.vendor == "postgresql"
        self.now = connection.ops.adapt_datetimefield_value(timezone.now())
        if self.postgres:
            # For this transaction only: the file-wide aggregates fit in memory instead of
            # spilling to disk, and no JIT compilation (it costs more than it saves here).
            self._execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
            self._execute("SET LOCAL jit = off")
        self._execute(f"DROP TABLE IF EXISTS {KEYS}")
        self._execute(f"DROP TABLE IF EXISTS {STAGE}")
        kind = 1 if self.postgres else 2
        columns = ", ".join(f"{column[0]} {column[kind]}" for column in COLUMNS)
        self._execute(f"CREATE TEMPORARY TABLE {STAGE} ({columns})")

    def _execute(self, sql: str, params=()) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    def _fetch(self, sql: str, params=()) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    # --- loading ------------------------------------------------------------------------------

    def load(self, rows: Iterable[tuple]) -> None:
        """Stage `rows` (tuples in COLUMNS order without `ord`), numbering them in order."""
        names = ", ".join(column[0] for column in COLUMNS)
        if self.postgres:
            with (
                connection.cursor() as cursor,
                cursor.copy(f"COPY {STAGE} ({names}) FROM STDIN") as copy,
            ):
                for ord_, row in enumerate(rows, start=1):
                    copy.write_row((ord_, *row))
            self._execute(f"ANALYZE {STAGE}")  # temporary tables get no statistics otherwise
            return
        marks = ", ".join(["%s"] * len(COLUMNS))
        insert = f"INSERT INTO {STAGE} ({names}) VALUES ({marks})"
        batch = []
        with connection.cursor() as cursor:
            for ord_, row in enumerate(rows, start=1):
                batch.append((ord_, *row))
                if len(batch) >= SQLITE_BATCH:
                    cursor.executemany(insert, batch)
                    batch = []
            if batch:
                cursor.executemany(insert, batch)

    # --- problems -----------------------------------------------------------------------------

    def create_problems(self) -> int:
        """Create the problems named by text that the project lacks: the first record of a
        problem gives its text (only the first staged carries it), the first record with a
        reference answer gives that. Returns how many were created."""
        return self._execute(
            f"""
            INSERT INTO {_table(Problem)} (created_at, updated_at, project_id, text, text_hash,
                reference_solution, reference_answer, subject, level, external_id)
            SELECT %s, %s, %s, s.problem_text, s.problem_hash, '', r.reference_answer, '', NULL, ''
            FROM {STAGE} s
            JOIN (SELECT problem_hash, MIN(ord) AS first_ord FROM {STAGE}
                  WHERE problem_text IS NOT NULL GROUP BY problem_hash) f
                ON s.ord = f.first_ord
            LEFT JOIN (SELECT problem_hash, MIN(ord) AS ref_ord FROM {STAGE}
                       WHERE problem_hash IS NOT NULL AND reference_answer IS NOT NULL
                       GROUP BY problem_hash) g
                ON g.problem_hash = s.problem_hash
            LEFT JOIN {STAGE} r ON r.ord = g.ref_ord
            WHERE NOT EXISTS (SELECT 1 FROM {_table(Problem)} p
                              WHERE p.project_id = %s AND p.text_hash = s.problem_hash)
            ORDER BY s.ord
            ON CONFLICT DO NOTHING
            """,
            [self.now, self.now, self.project.pk, self.project.pk],
        )

    def resolve_problems(self) -> None:
        """Match every staged record to its problem's id in one statement: by hashed text, by
        id, or by external id (the lowest id when several problems share one). The narrow
        result (`KEYS`) also says whether the problem has a reference answer and whether the
        record is the first of its (problem, steps) in the file, the one that defines it."""
        problems = _table(Problem)
        project = self.project.pk
        self._execute(
            f"""
            CREATE TEMPORARY TABLE {KEYS} AS
            SELECT r.ord AS ord, r.problem_id AS problem_id, r.steps_hash AS steps_hash,
                (p.reference_answer IS NOT NULL AND TRIM(p.reference_answer) <> '')
                    AS has_reference,
                ROW_NUMBER() OVER (PARTITION BY r.problem_id, r.steps_hash ORDER BY r.ord) = 1
                    AS is_first
            FROM (
                SELECT s.ord, COALESCE(ph.id, pr.id, pe.id) AS problem_id, s.steps_hash
                FROM {STAGE} s
                LEFT JOIN {problems} ph
                    ON s.problem_hash IS NOT NULL AND ph.project_id = %s
                    AND ph.text_hash = s.problem_hash
                LEFT JOIN {problems} pr
                    ON s.ref_problem_id IS NOT NULL AND pr.project_id = %s
                    AND pr.id = s.ref_problem_id
                LEFT JOIN (SELECT external_id, MIN(id) AS id FROM {problems}
                           WHERE project_id = %s AND external_id <> '' GROUP BY external_id) pe
                    ON s.ref_external_id IS NOT NULL AND pe.external_id = s.ref_external_id
            ) r
            LEFT JOIN {problems} p ON p.project_id = %s AND p.id = r.problem_id
            """,
            [project, project, project, project],
        )
        if self.postgres:
            self._execute(f"ANALYZE {KEYS}")

    def unknown_problem_references(self, limit: int) -> tuple[int, list[str]] | None:
        """(count, `FILE:LINE: field: ...` lines) of records whose problem id or external id
        matches no problem of the project; None when every record has its problem."""
        rows = self._fetch(
            f"""
            SELECT s.location, s.ref_problem_id, s.ref_external_id
            FROM {KEYS} k JOIN {STAGE} s ON s.ord = k.ord
            WHERE k.problem_id IS NULL ORDER BY k.ord LIMIT %s
            """,
            [limit],
        )
        if not rows:
            return None
        total = self._fetch(f"SELECT COUNT(*) FROM {KEYS} WHERE problem_id IS NULL")[0][0]
        lines = [
            f"{where}: problem_id: no problem {problem_id!r} in this project"
            if problem_id is not None
            else f"{where}: problem_external_id: no problem {external!r} in this project"
            for where, problem_id, external in rows
        ]
        if total > len(lines):
            lines.append(f"... and {total - len(lines)} more bad records")
        return total, lines

    # --- solutions and the generation ---------------------------------------------------------

    def create_solutions(self) -> int:
        """Insert the first record of every (problem, steps) the project lacks; returns how
        many. Each new solution's grading state is set here, so the grader only ever sees the
        solutions it can grade. Solutions already stored are skipped by the unique index on
        (problem, steps hash) (`ON CONFLICT`), one index probe per record: never a scan of the
        solutions table. The staging table is read once, in order; only the narrow keys are
        held in a hash."""
        no_answer = "s.final_answer IS NULL OR TRIM(s.final_answer) = ''"
        return self._execute(
            f"""
            INSERT INTO {_table(Solution)} (created_at, updated_at, project_id, problem_id, steps,
                steps_hash, final_answer, generator, source, external_id, metadata, is_correct,
                graded_at, grading, prm_score)
            SELECT %s, %s, %s, k.problem_id, s.steps, s.steps_hash, s.final_answer, s.generator,
                s.source, s.external_id, s.metadata, s.is_correct, NULL,
                CASE WHEN s.is_correct IS NOT NULL THEN %s
                     WHEN {no_answer} THEN %s
                     WHEN NOT k.has_reference THEN %s
                     ELSE %s END,
                NULL
            FROM {STAGE} s
            JOIN (SELECT ord, problem_id, has_reference FROM {KEYS} WHERE is_first) k
                ON k.ord = s.ord
            WHERE TRUE
            ON CONFLICT DO NOTHING
            """,
            [
                self.now,
                self.now,
                self.project.pk,
                Grading.GIVEN.value,
                Grading.NO_ANSWER.value,
                Grading.NO_REFERENCE.value,
                Grading.PENDING.value,
            ],
        )

    def target_generation(self, number: int | None) -> tuple[Generation, bool]:
        """The generation the solutions go into (a new one after the newest when `number` is
        None), and whether it was made now."""
        if number is None:
            top = Generation.objects.filter(project=self.project).aggregate(top=Max("number"))
            number = max(0, (top["top"] if top["top"] is not None else -1) + 1)
            return (
                Generation.objects.create(project=self.project, number=number, strategy="imported"),
                True,
            )
        return Generation.objects.get_or_create(
            project=self.project, number=number, defaults={"strategy": "imported"}
        )

    def add_to_generation(self, generation: Generation, *, recount: bool) -> int:
        """Put every staged record's solution into `generation` once, ranked after its items in
        file order (the first record of a solution decides its place). `recount`: recount the
        generation's open slots (it existed: labelings may already count against them).

        Each distinct (problem, steps) finds its solution by a scalar subquery, i.e. one probe
        of the unique index: a join could be planned as a scan of every solution stored."""
        base = GenerationItem.objects.filter(generation=generation).aggregate(top=Max("rank"))
        added = self._execute(
            f"""
            INSERT INTO {_table(GenerationItem)} (generation_id, solution_id, rank, score,
                submitted_count, is_open)
            SELECT %s, x.solution_id, %s + ROW_NUMBER() OVER (ORDER BY x.first_ord), NULL, 0, TRUE
            FROM (SELECT (SELECT sol.id FROM {_table(Solution)} sol
                          WHERE sol.problem_id = k.problem_id AND sol.steps_hash = k.steps_hash)
                      AS solution_id, k.ord AS first_ord
                  FROM {KEYS} k WHERE k.is_first) x
            WHERE NOT EXISTS (SELECT 1 FROM {_table(GenerationItem)} gi
                              WHERE gi.generation_id = %s AND gi.solution_id = x.solution_id)
            """,
            [generation.pk, base["top"] or 0, generation.pk],
        )
        if recount and added:
            generation_items_recount(self.project, generation_id=generation.pk)
        return added

    # --- upkeep -------------------------------------------------------------------------------

    def analyze(self) -> None:
        analyze(
            {
                Problem: PROBLEM_STATISTICS,
                Solution: SOLUTION_STATISTICS,
                GenerationItem: (),
            }
        )

    def drop(self) -> None:
        self._execute(f"DROP TABLE IF EXISTS {KEYS}")
        self._execute(f"DROP TABLE IF EXISTS {STAGE}")
