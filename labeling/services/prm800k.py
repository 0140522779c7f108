"""PRM800K import.

Import is all-or-nothing per file: every line is validated; the first bad line and any after it
are reported as `FILE:LINE: field: what is wrong` and the transaction is rolled back. Writes go
in chunks inside one transaction.

Memory: the import keeps ids and digests only (per line, problem, solution, labeler and
generation), never model instances or texts; on PostgreSQL the rows go in with COPY.

The records' rows are written by labeling/services/prm800k_rows.py (`_Writer`).

Import checks, line by line, that re-serialising the stored fields (the export's
`labeling_record`) reproduces the source bytes, and keeps the source line only for the rare
record whose layout it would not reproduce, so export of imported data is byte-identical.
"""

import hashlib
import logging
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import IO

from django.db import connection, transaction

from labeling import prm800k
from labeling.bulk_insert import analyze
from labeling.errors import ApplicationError
from labeling.models import (
    GenerationItem,
    Labeling,
    Problem,
    Project,
    Solution,
    StepRating,
)
from labeling.record_files import BadRecords, import_limits, iter_json_lines, validated_records
from labeling.services.prm800k_rows import ImportResult, _Writer
from labeling.services.prm800k_rulings import FileRulings, split_ruling
from labeling.services.quality import generation_items_recount
from labeling.services.solution_staging import PROBLEM_STATISTICS, SOLUTION_STATISTICS
from labeling.text_policy import TextError, check_text, is_blank

logger = logging.getLogger(__name__)


CHUNK_SIZE = 1000  # records written per round trip batch; bounds memory on large files

Progress = Callable[[int], None]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def steps_json(steps: list[str]) -> str:
    """`json.dumps(steps)` for a list of strings (what a solution's steps hash covers), built
    from the same C escaper without the encoder's per-call overhead: a third faster, which a
    bulk import notices."""
    return "[" + ", ".join(map(encode_basestring_ascii, steps)) + "]"


def steps_hash(steps: list[str]) -> str:
    return sha256(steps_json(steps))


PROJECT_NAME_MAX = Project._meta.get_field("name").max_length


def project_get_or_create(name: str) -> Project:
    """The project named `name` (created if missing); ApplicationError for a name that is
    empty, too long or breaks the text policy (a command-line argument can hold anything)."""
    name = name.strip()
    if is_blank(name):  # "\u200b" is no name either (labeling/text_policy.py)
        raise ApplicationError("A project name is needed.")
    try:
        check_text(name, "project", PROJECT_NAME_MAX)
    except TextError as exc:
        raise ApplicationError(str(exc)) from None
    project, _ = Project.objects.get_or_create(name=name)
    return project


def prm800k_import(
    *, stream: IO[bytes], name: str, project_name: str, progress: Progress | None = None
) -> ImportResult:
    """Import PRM800K JSON Lines from a binary `stream` (`name` is used in error messages).

    Every line passes the text policy and the size limits (`labeling.record_files`; a UTF-8
    byte-order mark before the first line is skipped) and the record layout; all or nothing."""
    limits = import_limits()
    result = ImportResult()
    bad = BadRecords(name, noun="line")

    def located():
        for number, line, record, problem in iter_json_lines(stream, limits):
            result.lines += 1
            yield f"{name}:{number}", (line, record), problem

    def parse(line_and_record, where):
        line, record = line_and_record
        prm800k.validate_record(record, limits)  # RecordError is a ValueError
        # the extension field becomes the project's ruling (labeling/services/prm800k_rulings.py)
        bare_line, bare_record, first_error = split_ruling(line, record)
        return bare_line, bare_record, line, (first_error, where)

    with transaction.atomic():
        project = project_get_or_create(project_name)
        lock_project_imports(project)
        writer = _Writer(project, result, FileRulings(project, name))
        batch: list[tuple] = []
        # all or nothing: after a bad line the rest is validated (to report it) but not written
        for _, line_and_record in validated_records(located(), parse, bad):
            batch.append(line_and_record)
            if len(batch) >= CHUNK_SIZE:
                writer.write(batch)
                batch = []
                if progress:
                    progress(result.lines)
        bad.raise_if_any()  # inside atomic(): rolls back everything this file wrote
        if batch:
            writer.write(batch)
        result.adjudications_created = writer.rulings.save()
        if result.created:
            # Mid-transaction the planner has no statistics for the rows just written and runs
            # the recount's subquery as a scan per item (89 s of a 100k import); ANALYZE here
            # sees this transaction's rows (docs/benchmarks.md). Every table written is
            # analyzed (issue 15: after every bulk write).
            analyze(
                {
                    Labeling: LABELING_STATISTICS,
                    GenerationItem: (),
                    StepRating: (),
                    Solution: SOLUTION_STATISTICS,
                    Problem: PROBLEM_STATISTICS,
                }
            )
            generation_items_recount(project)
        if progress:
            progress(result.lines)
    logger.info("PRM800K import of %s into %s: %s", name, project.name, result.summary())
    return result


def lock_project_imports(project: Project) -> None:
    """PostgreSQL: one import (PRM800K or solutions) per project at a time, until this
    transaction ends. (SQLite's writers queue anyway: IMMEDIATE transactions.)

    The PRM800K writer loads what the project holds once, at the start, and a solution import
    numbers its new generation after the newest one; a second import waits here and then finds
    everything the first one stored instead of colliding with it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_IMPORT_LOCK, project.pk])


_IMPORT_LOCK = 0x50524D  # "PRM": advisory lock class of the project's imports
LABELING_STATISTICS = (
    "project", "solution", "labeler", "generation", "status", "finish_reason", "submitted_at",
    "is_quality_control", "is_screening", "source_hash",
)  # fmt: skip
