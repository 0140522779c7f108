"""config.sessions: Django's database sessions with a prepared read on PostgreSQL.

What it catches: a read that returns another session's data, one that serves an expired
session (a logged-out user would stay logged in), one that keeps the key of a missing session
(Django then saves a new session under a key the client chose), and data read differently from
Django's own `db` engine.
"""

from datetime import timedelta

import pytest
from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.utils import timezone

from config.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_reads_what_djangos_db_engine_reads():
    ours = SessionStore()
    ours["user"] = "42"
    ours["text"] = "étape \u2028"
    ours.create()
    other = SessionStore()
    other["user"] = "7"
    other.create()
    again = SessionStore(ours.session_key)
    django_own = db.SessionStore(ours.session_key)
    assert dict(again.load()) == dict(django_own.load()) == {"user": "42", "text": "étape \u2028"}
    assert again.session_key == ours.session_key


def test_an_expired_or_unknown_session_is_empty_and_forgets_its_key():
    store = SessionStore()
    store["user"] = "42"
    store.create()
    Session.objects.filter(session_key=store.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    for key in (store.session_key, "no-such-session-key-at-all"):
        read = SessionStore(key)
        assert read.load() == {}
        assert read.session_key is None  # as Django's: never reused for a new session
        assert db.SessionStore(key).load() == {}
