"""The API documentation (/api/schema/, /api/docs/) and the API root (/api/).

Issue 14: the assignment and statistics answers were untyped objects (Swagger UI showed
`property1`, `property2`), several endpoints were described by an internal docstring
("ApplicationError from a service becomes 404, 409 or 400 …") or not at all, and /api/ was a 404.
"""

import json

import pytest

from labeling.models import Role
from tests.factories import UserFactory


@pytest.fixture
def schema(client):
    client.force_login(UserFactory(role=Role.LEAD))
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def _untyped(node, where="") -> list[str]:
    """Places where the schema says "an object with any properties"."""
    found = []
    if isinstance(node, dict):
        if node.get("type") == "object" and node.get("additionalProperties") == {}:
            found.append(where)
        if (
            node.get("type") == "object"
            and not node.get("properties")
            and ("additionalProperties" not in node)
        ):
            found.append(where)
        for key, value in node.items():
            found += _untyped(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _untyped(value, f"{where}/{i}")
    return found


@pytest.mark.django_db
def test_every_answer_of_every_endpoint_is_typed(schema):
    responses = {
        f"{method.upper()} {path} {code}": answer
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for code, answer in operation["responses"].items()
    }
    untyped = [key + where for key, answer in responses.items() for where in _untyped(answer)]
    untyped += [
        f"components/{name}{where}"
        for name, component in schema["components"]["schemas"].items()
        for where in _untyped(component)
    ]
    assert not untyped
    statistics = schema["components"]["schemas"]["ProjectStatistics"]["properties"]
    assert {"krippendorff_alpha_ordinal", "pairwise_cohen_kappa", "throughput"} <= set(statistics)
    assignment = schema["components"]["schemas"]["Assignment"]["properties"]
    assert {"problem", "steps", "draft"} <= set(assignment)


@pytest.mark.django_db
def test_every_endpoint_is_described_for_api_users(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            text = f"{operation.get('summary', '')} {operation.get('description', '')}".strip()
            assert text, f"{method.upper()} {path} has no description"
            assert "ApplicationError" not in text and "service" not in text.lower(), (
                f"{method.upper()} {path} describes the code, not the API: {text!r}"
            )


@pytest.mark.django_db
def test_the_api_root_lists_the_entry_points(client):
    body = client.get("/api/", headers={"Accept": "application/json"}).json()
    assert body["docs"].endswith("/api/docs/") and body["schema"].endswith("/api/schema/")
    assert body["labelings"].endswith("/api/labelings/")
    assert body["next_assignment"].endswith("/api/assignments/next/")
