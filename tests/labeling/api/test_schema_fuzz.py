"""Schema-driven fuzzing of the whole API (schemathesis against /api/schema/), as a lead and as a
researcher with API tokens: for every operation a few valid and a few invalid requests (bounded,
deterministic). No answer may be a server error, and every documented answer must match its
schema and content type."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from labeling.models import ExportJob, Role
from labeling.research_auth import token_create
from tests.factories import UserFactory

from .research_helpers import import_samples, researcher

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 4  # per generation mode
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


@pytest.fixture
def api_schema(settings, tmp_path):
    settings.JOBS_DIR = tmp_path / "jobs"
    # Requests go straight to the WSGI application; like Django's test client, keep it from
    # closing the test's database connection (and its transaction) after each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _headers(user, project) -> dict:
    """Real data for ids to hit (the PRM800K samples, an export job) and the user's token."""
    ExportJob.objects.create(created_by=user, project=project, format="prm800k")
    _, key = token_create(user=user, name="fuzz")
    return {"Authorization": f"Token {key}"}


def fuzz(schema, headers) -> list[str]:
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in MODES:

            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis_settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case):
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                # nothing to make invalid (an operation without parameters or body)
                assert mode == GenerationMode.NEGATIVE, operation.label
            except Exception as exc:  # every operation is tried; all failures are reported
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert operations > 30  # the whole API, not a part of it
    return failures


def test_fuzzing_as_a_lead(api_schema):
    failures = fuzz(api_schema, _headers(UserFactory(role=Role.LEAD), import_samples()))
    assert not failures, "\n\n".join(failures)


def test_fuzzing_as_a_researcher(api_schema):
    project = import_samples()
    failures = fuzz(api_schema, _headers(researcher(project), project))
    assert not failures, "\n\n".join(failures)
