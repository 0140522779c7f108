"""Creating users and their API tokens."""

from django.db import transaction
from rest_framework.authtoken.models import Token

from labeling.errors import ApplicationError
from labeling.models import Membership, Project, Role, User


def user_create(
    *, username: str, role: str, password: str | None = None, project: Project | None = None
) -> tuple[User, Token]:
    """Create a user with `role` (member of `project` if given) and an API token for them."""
    username = username.strip()
    if not username:
        raise ApplicationError("A user name is needed.")
    if role not in Role.values:
        raise ApplicationError(f"role: must be one of {', '.join(Role.values)}, got {role!r}")
    if User.objects.filter(username=username).exists():
        raise ApplicationError(f"A user named {username!r} already exists.")
    with transaction.atomic():
        user = User(username=username, role=role, is_staff=role == Role.LEAD)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        if project is not None:
            Membership.objects.create(project=project, user=user)
        token = Token.objects.create(user=user)
    return user, token


def membership_ensure(*, user: User, project: Project) -> None:
    Membership.objects.get_or_create(project=project, user=user)
