"""The request log (settings.LOGGING, config/log_filters.py): a refused or missing page is one
warning line, a server error keeps its traceback. Issue 14: an annotator opening a lead's page
(/projects/<p>/stats/, /loop/) or a researcher opening /queue/ dumped a headerless traceback
into the demo's terminal, which is meant to show only errors."""

import logging
import sys

import pytest
from django.test import Client

from labeling.models import Membership, Role
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def _formatted(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    return "\n".join(formatter.format(record) for record in records)


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        (Role.ANNOTATOR, "/projects/{p}/stats/", 403),
        (Role.ANNOTATOR, "/projects/{p}/loop/", 403),
        (Role.RESEARCHER, "/projects/{p}/queue/", 403),
        (Role.LEAD, "/projects/999999/stats/", 404),
    ],
)
def test_a_refused_or_missing_page_logs_one_line_without_a_traceback(caplog, role, path, status):
    """Would catch Django's 4xx warnings going out with their exception's traceback (the
    demo's terminal shows every line with "Traceback" in it)."""
    project = ProjectFactory()
    user = UserFactory(role=role)
    Membership.objects.create(project=project, user=user)
    client = Client()
    client.force_login(user)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get(path.format(p=project.pk))
    assert response.status_code == status
    records = [r for r in caplog.records if r.name == "django.request"]
    assert records and all(r.levelname == "WARNING" for r in records)
    text = _formatted(records)
    assert "Traceback" not in text and len(text.splitlines()) == len(records), text


def test_a_server_error_keeps_its_traceback():
    """The filter must not hide what an operator needs: a 5xx record keeps exc_info."""
    logger = logging.getLogger("django.request")
    assert any(type(f).__name__ == "ClientErrorOneLine" for f in logger.filters)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        exc_info = sys.exc_info()
    record = logger.makeRecord(
        "django.request",
        logging.ERROR,
        __file__,
        1,
        "Internal Server Error: /x",
        (),
        exc_info,
        extra={"status_code": 500},
    )
    assert logger.filter(record) and record.exc_info is not None
    assert "Traceback" in _formatted([record])
