import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from labeling.errors import ApplicationError
from labeling.models import Membership, Role, User
from labeling.services.users import user_create
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def test_user_create_makes_a_member_with_a_token_and_a_stable_labeler_uuid():
    project = ProjectFactory()
    user, token = user_create(username="ann", role=Role.ANNOTATOR, password="pw", project=project)
    assert Token.objects.get(user=user).key == token.key
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
    assert f"API token: {Token.objects.get(user=user).key}" in out
