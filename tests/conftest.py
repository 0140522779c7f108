import json
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

SHARED_DATA = Path(settings.SHARED_DATA_DIR)
PRM800K_SAMPLES = SHARED_DATA / "prm800k_samples.jsonl"


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
