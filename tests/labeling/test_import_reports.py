"""The all-or-nothing validation loop is written once (labeling/record_files.py
`validated_records`, `BadRecords`) for every import format: the same file of bad records gives
the same report from each. On the old code the problem importer (its own copy of the loop)
dropped the `... and N more` line the others wrote, so a user saw 50 errors and not how many
more there were."""

import io

import pytest

from labeling.errors import ApplicationError
from labeling.models import Problem, Project
from labeling.record_files import MAX_REPORTED_ERRORS
from labeling.services.prm800k import prm800k_import
from labeling.services.problems import problems_import
from labeling.services.solutions import solutions_import

pytestmark = pytest.mark.django_db

BAD = MAX_REPORTED_ERRORS + 7


def _import(kind: str, data: bytes):
    stream = io.BytesIO(data)
    if kind == "problems":
        return problems_import(path="f.jsonl", project_name="p", stream=stream)
    if kind == "solutions":
        return solutions_import(path="f.jsonl", project_name="p", stream=stream)
    return prm800k_import(stream=stream, name="f.jsonl", project_name="p")


@pytest.mark.parametrize(
    ("kind", "noun"), [("problems", "record"), ("solutions", "record"), ("prm800k", "line")]
)
def test_every_format_reports_bad_records_the_same_way(kind, noun):
    data = b"{not json\n" * BAD
    with pytest.raises(ApplicationError) as caught:
        _import(kind, data)
    error = caught.value
    assert error.message == f"f.jsonl: {BAD} bad {noun}(s); nothing was imported."
    assert len(error.details) == MAX_REPORTED_ERRORS + 1
    assert error.details[0].startswith("f.jsonl:1: ")
    assert error.details[-1] == f"... and 7 more bad {noun}s"
    assert not Problem.objects.exists()  # all or nothing
    assert not Project.objects.filter(name="p", problems__isnull=False).exists()
