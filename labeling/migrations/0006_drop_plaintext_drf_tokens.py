"""DRF's `authtoken` table kept API keys in plaintext. Each of its keys becomes a named token
(only the key's sha256 is kept, so the key goes on working), then the table is dropped."""

import hashlib
from datetime import UTC, datetime

from django.db import migrations
from django.utils.dateparse import parse_datetime

DRF_TABLE = "authtoken_token"
NAME = "add_user"


def _aware(value) -> datetime:
    """The raw column value (a string on SQLite, naive there: Django stores UTC) as aware."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def convert_and_drop(apps, schema_editor):
    connection = schema_editor.connection
    if DRF_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("labeling", "ApiToken")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id, created FROM {DRF_TABLE}")
        rows = cursor.fetchall()
    for key, user_id, created in rows:
        token = ApiToken.objects.create(
            user_id=user_id,
            name=NAME,
            key_hash=hashlib.sha256(key.encode("utf-8")).hexdigest(),
            prefix=key[:8],
        )
        ApiToken.objects.filter(pk=token.pk).update(created_at=_aware(created))
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {DRF_TABLE}")
    # so that a later `migrate` never believes the table is still there
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'authtoken'")


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0005_project_guidelines"),
    ]

    operations = [
        migrations.RunPython(convert_and_drop, migrations.RunPython.noop, elidable=True),
    ]
