import hashlib

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from labeling.errors import ApplicationError
from labeling.models import ApiToken, Membership, Role, User
from labeling.services.users import user_create
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def test_user_create_makes_a_member_with_a_token_and_a_stable_labeler_uuid():
    project = ProjectFactory()
    user, token = user_create(username="ann", role=Role.ANNOTATOR, password="pw", project=project)
    stored = ApiToken.objects.get(user=user)
    assert stored.key_hash == hashlib.sha256(token.key.encode()).hexdigest()
    assert Membership.objects.filter(user=user, project=project).exists()
    uuid_before = user.labeler_uuid
    user.refresh_from_db()
    assert user.labeler_uuid == uuid_before and user.check_password("pw")


def test_without_password_the_user_is_api_only():
    user, _ = user_create(username="bot", role=Role.RESEARCHER)
    assert not user.has_usable_password()


def test_an_unknown_role_is_refused():
    with pytest.raises(ApplicationError, match="role: must be one of"):
        user_create(username="x", role="boss")
    assert not User.objects.exists()


def test_add_user_command_prints_the_token(capsys):
    project = ProjectFactory(name="Algebra")
    call_command("add_user", "lead1", "--role", "lead", "--project", "Algebra")
    out = capsys.readouterr().out
    user = User.objects.get(username="lead1")
    assert user.role == Role.LEAD and user.projects.get() == project
    key = out.split("API token: ", 1)[1].split()[0]
    # stored hashed: nothing in the database holds the printed key (issue 13: `add_user`
    # printed a DRF token stored in plaintext)
    stored = ApiToken.objects.get(user=user)
    assert key not in (stored.key_hash, stored.prefix, stored.name)
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/projects/").status_code == 200
