"""Test settings: the database comes from DATABASE_URL (PostgreSQL in CI, SQLite by default)."""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; tests only
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files from the finders, as in development: tests need no collectstatic.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not shared-cache memory: browser tests hit the live server from another thread,
    # and shared-cache memory databases lock whole tables ("database table is locked").
    # In the system's temporary folder (var/ may not exist in a fresh clone), one per process.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(Path(tempfile.gettempdir()) / f"steplabel-test-{os.getpid()}.sqlite3")
    }

# Each test process has its own cache; tests clear it between tests (tests/conftest.py).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Tasks the code under test enqueues go to an in-process broker, never to a real one (tests that
# need a real worker start one with the local settings and their own broker).
CELERY_BROKER_URL = "memory://"
