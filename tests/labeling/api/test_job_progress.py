"""Import progress is visible to other connections while the import's transaction is open."""

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from labeling.jobs import Progress
from labeling.models import ImportJob, Project
from tests.factories import UserFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_progress_is_written_outside_the_import_transaction():
    job = ImportJob.objects.create(
        created_by=UserFactory(), project=Project.objects.create(name="p"), kind="prm800k",
        filename="f.jsonl", file="/nowhere",
    )  # fmt: skip
    reader = connections.create_connection(DEFAULT_DB_ALIAS)
    progress = Progress(ImportJob, job.pk, side_connection=True)
    try:
        with transaction.atomic():
            Project.objects.create(name="written by the import")
            progress(1000, force=True)
            with reader.cursor() as cursor:
                cursor.execute("SELECT progress FROM labeling_importjob WHERE id = %s", [job.pk])
                assert cursor.fetchone()[0] == 1000
                cursor.execute("SELECT count(*) FROM labeling_project WHERE name LIKE 'written%%'")
                assert cursor.fetchone()[0] == 0  # the import itself is still invisible
    finally:
        progress.close()
        reader.close()
