"""The loop's API against its OpenAPI description (schemathesis, bounded and deterministic): no
server errors, and every documented answer matches its schema, as a lead and as a researcher."""

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
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from active_learning.loop import triggers
from labeling.models import Role
from labeling.research_auth import token_create
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

LOOP_PATHS = r"^/api/(runs/|projects/\{project_id\}/(runs|loop-settings|grade|generate)/)"
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture
def api_schema():
    # Straight to the WSGI application; like Django's test client, keep it from closing the
    # test's database connection (and its transaction) after each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def fuzz_loop(schema, user) -> list[str]:
    project = ProjectFactory(pk=1)
    project.members.add(user)
    triggers.run_create(project=project, trigger="lead")  # a run with id to hit
    _, key = token_create(user=user, name="fuzz")
    headers = {"Authorization": f"Token {key}"}
    failures, operations = [], 0
    for result in schema.include(path_regex=LOOP_PATHS).get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis_settings(
                max_examples=6,
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
                pass
            except Exception as exc:
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    # runs list/create, run, retry, cancel, stop, settings x2, grade, generate
    assert operations == 10, operations
    return failures


@pytest.mark.parametrize("role", [Role.LEAD, Role.RESEARCHER])
def test_the_loop_api_keeps_to_its_schema(api_schema, role):
    failures = fuzz_loop(api_schema, UserFactory(role=role))
    assert not failures, "\n\n".join(failures)
