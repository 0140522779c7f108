"""Fast inserts of many rows without model instances.

PostgreSQL gets COPY (an order of magnitude faster than multi-row INSERT for the millions of step
ratings a PRM800K import writes, and no client-side quoting of large JSON values); other
databases get `bulk_create`, which stores the same rows.
"""

from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import DateTimeField, JSONField, Model
from django.utils import timezone

BULK_CREATE_BATCH = 2000


def copy_supported() -> bool:
    """Whether the default database takes COPY (PostgreSQL)."""
    return connection.vendor == "postgresql"


def insert_rows(model: type[Model], fields: Sequence[str], rows: Iterable[tuple]) -> None:
    """Insert `rows` (tuples in `fields` order) into `model`'s table. No signals, no ids back.

    On PostgreSQL the values go to COPY as they are (a JSON column takes a JSON string)."""
    if copy_supported():
        table = connection.ops.quote_name(model._meta.db_table)
        columns = ", ".join(
            connection.ops.quote_name(model._meta.get_field(f).column) for f in fields
        )
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    model.objects.bulk_create(
        (model(**dict(zip(fields, row, strict=True))) for row in rows), batch_size=BULK_CREATE_BATCH
    )


def insert_rows_returning_ids(
    model: type[Model], fields: Sequence[str], rows: Sequence[tuple]
) -> list[int]:
    """Insert `rows` (tuples in `fields` order, Python values as a model field takes them: lists
    and dicts for JSON fields) and return their new ids, in row order (ascending).

    Fields not named get their model default, as `bulk_create` gives them (`auto_now` and
    `auto_now_add` fields: now). No signals, no `save()`. On PostgreSQL the ids come from the
    table's sequence in one query and the rows go in with COPY; elsewhere `bulk_create`."""
    if not rows:
        return []
    if not copy_supported():
        objects = [model(**dict(zip(fields, row, strict=True))) for row in rows]
        model.objects.bulk_create(objects, batch_size=BULK_CREATE_BATCH)
        return [obj.pk for obj in objects]
    meta = model._meta
    pk = meta.pk
    named = [meta.get_field(name) for name in fields]
    rest = [f for f in meta.concrete_fields if f is not pk and f not in named]
    now = timezone.now()
    defaults = tuple(f.get_db_prep_save(_default(f, now), connection) for f in rest)
    # JSON values need Django's adaptation (Jsonb); everything else psycopg dumps itself.
    prepare = [i for i, f in enumerate(named) if isinstance(f, JSONField)]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = ", ".join(quote(f.column) for f in (pk, *named, *rest))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, pk.column, len(rows)],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for new_id, row in zip(ids, rows, strict=True):
                if prepare:
                    row = list(row)
                    for i in prepare:
                        row[i] = named[i].get_db_prep_save(row[i], connection)
                copy.write_row((new_id, *row, *defaults))
    return ids


def _default(field, now):
    if isinstance(field, DateTimeField) and (field.auto_now or field.auto_now_add):
        return now
    return field.get_default()


SQLITE_ANALYSIS_LIMIT = 1000  # rows SQLite's ANALYZE samples per index: bounded time


def analyze(tables: dict[type[Model], tuple[str, ...]]) -> None:
    """Fresh planner statistics for tables just bulk-written (issue 15: without them the
    next-task query scans every open task), inside the writing transaction, which ANALYZE
    sees. `tables`: model -> the columns to analyze on PostgreSQL (empty: all); naming them
    leaves out wide text and JSON columns, whose statistics cost most of the time and serve no
    query plan. SQLite analyzes indexes, with a bounded sample."""
    quote = connection.ops.quote_name
    if connection.vendor == "postgresql":
        parts = []
        for model, columns in tables.items():
            names = ", ".join(quote(model._meta.get_field(c).column) for c in columns)
            parts.append(quote(model._meta.db_table) + (f" ({names})" if names else ""))
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE " + ", ".join(parts))
        return
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA analysis_limit = {SQLITE_ANALYSIS_LIMIT}")
        for model in tables:
            cursor.execute(f"ANALYZE {quote(model._meta.db_table)}")
