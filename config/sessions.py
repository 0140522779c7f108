"""The session engine (settings.SESSION_ENGINE): Django's database sessions, with the read that
every request of a logged-in user makes sent as a prepared statement on PostgreSQL.

Django's `SessionStore.load` reads the session row through the ORM, which compiles the same
query again on every request; for the task page's API calls (the labeling hot path with a
session, issue 15) building that query cost more CPU than PostgreSQL running it
(docs/benchmarks.md, "CPU per request outside SQL"). The statement here is the ORM's own
condition (this key, not expired) through labeling/hot_sql.py; everything else (creating,
saving, cycling keys, deleting, clearing expired sessions, SQLite) is Django's `db` engine,
and the table and the stored data are the same, so the engine can be switched either way
without logging anyone out.
"""

from django.contrib.sessions.backends import db
from django.db import connection
from django.utils import timezone

from labeling import hot_sql

_READ_SQL = "SELECT {data}, {expires} FROM {table} WHERE {key} = %s AND {expires} > %s::timestamptz"


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        """The session row (a model instance with the key and data), or None (and the key
        forgotten) when there is none that has not expired, as Django's own read."""
        if connection.vendor != "postgresql" or self.session_key is None:
            return super()._get_session_from_db()
        model = self.model
        meta = model._meta
        sql = _READ_SQL.format(
            data=meta.get_field("session_data").column,
            table=meta.db_table,
            key=meta.get_field("session_key").column,
            expires=meta.get_field("expire_date").column,
        )
        with hot_sql.cursor() as cursor:
            cursor.execute(sql, [self.session_key, timezone.now()])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return model(session_key=self.session_key, session_data=row[0], expire_date=row[1])
