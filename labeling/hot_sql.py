"""A cursor for the hot path's hand-written statements that PostgreSQL parses and plans once
per connection (a named prepared statement), not on every request.

Django sends its queries with the parameters inlined (client-side binding), so PostgreSQL plans
every statement again: for the next-task query that was 1.5 ms of planning for 0.3 ms of
execution (docs/benchmarks.md). The statements in labeling.services.assignments,
labeling.services.drafts and labeling.services.submission are the same text on every request,
so they are sent with server-side binding and `prepare=True` instead (psycopg keeps up to 100
per connection; persistent connections, DATABASE_CONN_MAX_AGE, keep them across requests). The
cursor is wrapped by Django as any other (query logging, execute wrappers, error translation),
so the statement-count test sees them. Elsewhere (SQLite), or with DATABASE_PREPARED_STATEMENTS off
(PgBouncer in transaction mode before 1.21 cannot route named prepared statements), it is
Django's own cursor.

Parameters are typed by psycopg (int, str, datetime, list); write an explicit cast where
PostgreSQL cannot infer a parameter's type from its context (a SELECT list, a NULL).
"""

from contextlib import contextmanager

from django.conf import settings
from django.db import connection


def _prepared_cursor_class():
    import psycopg

    class PreparedCursor(psycopg.Cursor):
        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True, binary=binary)

    return PreparedCursor


_class = None


@contextmanager
def cursor():
    """A cursor (context manager) on the default connection whose statements are prepared on
    PostgreSQL; Django's ordinary cursor elsewhere."""
    global _class
    if connection.vendor != "postgresql" or not settings.DATABASE_PREPARED_STATEMENTS:
        with connection.cursor() as plain:
            yield plain
        return
    connection.ensure_connection()
    if _class is None:
        _class = _prepared_cursor_class()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django turns psycopg's automatic preparing off (None), which also refuses explicit
        # prepare=True; a threshold no query reaches keeps the automatic one off and lets the
        # explicit one work (Django's own cursors bind client-side and never prepare).
        raw.prepare_threshold = 1 << 30
    wrapped = connection._prepare_cursor(_class(raw))
    try:
        yield wrapped
    finally:
        wrapped.close()
