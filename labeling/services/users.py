"""Creating users and their API tokens."""

from django.db import transaction

from labeling.errors import ApplicationError
from labeling.models import ApiToken, Membership, Project, Role, User
from labeling.research_auth import token_create

# The name of the token every new user gets (the one `add_user` prints).
FIRST_TOKEN_NAME = "add_user"


def user_create(
    *, username: str, role: str, password: str | None = None, project: Project | None = None
) -> tuple[User, ApiToken]:
    """Create a user with `role` (member of `project` if given) and a named API token for them.
    Returns the user and the token, whose `.key` holds the key: shown once, stored only as a
    hash (labeling.research_auth)."""
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
        token, key = token_create(user=user, name=FIRST_TOKEN_NAME)
    token.key = key  # not a field: the plaintext exists only in this return value
    return user, token


def membership_ensure(*, user: User, project: Project) -> None:
    Membership.objects.get_or_create(project=project, user=user)
