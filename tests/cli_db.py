"""Reading the committed database that worker and command processes share (`cli_database`)
straight with SQL: a look costs milliseconds, where a `manage.py` or scenario process costs
seconds of start-up on a loaded 2-core machine (and takes those seconds from the workers)."""

import sqlite3

import psycopg


def query(env: dict, sql: str, params=()) -> list[tuple]:
    """Rows of `sql` (PostgreSQL placeholders, %s) on env["DATABASE_URL"], PostgreSQL or
    SQLite."""
    url = env["DATABASE_URL"]
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=20) as conn:
            return conn.execute(sql.replace("%s", "?"), params).fetchall()
    with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
        return conn.execute(sql, params).fetchall()
