"""API tokens: only hashes anywhere (DRF's plaintext table converted and dropped), cached
lookups, and revocation that takes effect at once (issue 13 "Doors", issue 15 "token auth
cached")."""

import hashlib
import importlib
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from labeling import research_auth
from labeling.models import ApiToken, Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _auth_queries(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if "labeling_apitoken" in q["sql"] or 'FROM "labeling_user"' in q["sql"]
    ]


def test_a_repeated_request_costs_no_token_or_user_query():
    """Catches: every API request looked its token (and user) up in the database."""
    user = UserFactory(role=Role.LEAD)
    _, key = research_auth.token_create(user=user, name="script")
    client = with_token(key)
    with CaptureQueriesContext(connection) as first:
        assert client.get("/api/projects/").status_code == 200
    assert _auth_queries(first), "the first request reads the token"
    with CaptureQueriesContext(connection) as second:
        assert client.get("/api/projects/").status_code == 200
    assert _auth_queries(second) == []


def test_revoking_a_cached_token_takes_effect_at_once():
    user = UserFactory(role=Role.LEAD)
    token, key = research_auth.token_create(user=user, name="script")
    assert with_token(key).get("/api/projects/").status_code == 200  # now cached
    assert research_auth.token_revoke(user=user, token_id=token.pk)
    assert with_token(key).get("/api/projects/").status_code == 401


def test_deactivating_the_user_or_changing_the_role_takes_effect_at_once():
    user = UserFactory(role=Role.LEAD)
    _, key = research_auth.token_create(user=user, name="script")
    assert with_token(key).get("/api/labelings/").status_code == 200  # a lead may read labels
    user.role = Role.ANNOTATOR
    user.save()
    assert with_token(key).get("/api/labelings/").status_code == 403
    user.is_active = False
    user.save()
    assert with_token(key).get("/api/projects/").status_code == 401


def test_deleting_the_user_deletes_and_forgets_their_tokens():
    user = UserFactory(role=Role.LEAD)
    _, key = research_auth.token_create(user=user, name="script")
    assert with_token(key).get("/api/projects/").status_code == 200
    user.delete()
    assert with_token(key).get("/api/projects/").status_code == 401


def test_the_plaintext_drf_token_table_is_converted_to_hashes_and_dropped():
    """Catches: DRF's `authtoken` table kept keys in plaintext (old `add_user` tokens). The
    migration keeps each key working, stores only its hash, and drops the table."""
    migration = importlib.import_module("labeling.migrations.0006_drop_plaintext_drf_tokens")
    user = UserFactory(role=Role.LEAD)
    key = "0123456789abcdef0123456789abcdef01234567"  # DRF's format: 40 hex characters
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id bigint NOT NULL,"
            " created timestamp with time zone NOT NULL)"
            if connection.vendor == "postgresql"
            else "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id bigint "
            "NOT NULL, created datetime NOT NULL)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, %s, %s)", [key, user.pk, "2026-01-02 03:04:05"]
        )
    from django.apps import apps

    # the function only needs the editor's connection (SQLite's editor refuses to open inside
    # the test's transaction)
    migration.convert_and_drop(apps, SimpleNamespace(connection=connection))
    assert "authtoken_token" not in connection.introspection.table_names()
    stored = ApiToken.objects.get(user=user)
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert stored.created_at.year == 2026 and stored.created_at.month == 1
    assert with_token(key).get("/api/projects/").status_code == 200


def test_no_plaintext_token_model_is_installed():
    from django.apps import apps

    assert not apps.is_installed("rest_framework.authtoken")
