import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

SHARED_DATA = Path(settings.SHARED_DATA_DIR)
PRM800K_SAMPLES = SHARED_DATA / "prm800k_samples.jsonl"
ROOT = Path(settings.BASE_DIR)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("postgres"):
            item.fixturenames.append("_require_postgres")


@pytest.fixture
def _require_postgres(db):
    if connection.vendor != "postgresql":
        message = "needs PostgreSQL: point DATABASE_URL at it"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI must run every test against PostgreSQL)")
        pytest.skip(message)


@pytest.fixture
def redis_url() -> str:
    """The Redis of REDIS_URL. Missing: the test fails in CI (every test runs there) and is
    skipped elsewhere, with the reason printed (-ra)."""
    url = os.environ.get("REDIS_URL")
    if not url:
        message = "needs Redis: set REDIS_URL"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI must run every test against Redis)")
        pytest.skip(message)
    return url


@pytest.fixture
def sample_lines() -> list[str]:
    """The real PRM800K records shipped in ../shared/data, one string per line (no newline)."""
    return PRM800K_SAMPLES.read_text(encoding="utf-8").splitlines()


@pytest.fixture
def sample_records(sample_lines) -> list[dict]:
    return [json.loads(line) for line in sample_lines]


@pytest.fixture
def write_jsonl(tmp_path):
    """Write lines (strings, or objects dumped the PRM800K way) to a file; returns its path."""

    def write(lines, name="input.jsonl") -> Path:
        path = tmp_path / name
        text = "".join(
            (line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines
        )
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def cli_database(tmp_path_factory, django_db_blocker):
    """Environment for processes (commands, workers) that share one real, committed database:
    a fresh PostgreSQL database when DATABASE_URL names PostgreSQL, else an SQLite file;
    migrated once per test session."""
    with django_db_blocker.unblock():
        vendor = connection.vendor
        params = connection.settings_dict
    if vendor == "postgresql":
        name = f"steplabel_cli_{uuid.uuid4().hex[:10]}"
        admin = dict(
            host=params["HOST"] or "127.0.0.1",
            port=params["PORT"] or 5432,
            user=params["USER"],
            password=params["PASSWORD"] or None,
            dbname="postgres",
        )
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        auth = params["USER"] + (f":{params['PASSWORD']}" if params["PASSWORD"] else "")
        url = f"postgres://{auth}@{admin['host']}:{admin['port']}/{name}"
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'cli.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    yield env
    if vendor == "postgresql":
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def manage(cli_database):
    def run(*args, stdin=None):
        return subprocess.run(
            [sys.executable, "manage.py", *map(str, args)],
            cwd=ROOT,
            env=cli_database,
            capture_output=True,
            text=True,
            input=stdin,
        )

    return run


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
