"""Creating users and their API tokens."""

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import transaction

from labeling.errors import ApplicationError
from labeling.models import ApiToken, Membership, Project, Role, User
from labeling.research_auth import token_create
from labeling.text_policy import TextError, check_text

USERNAME_MAX = User._meta.get_field("username").max_length
# Django's own rule for user names (letters, digits and @ . + - _; no spaces, markup, invisible
# or direction-changing characters), which `User.save()` does not apply by itself.
username_validator = UnicodeUsernameValidator()

# The name of the token every new user gets (the one `add_user` prints).
FIRST_TOKEN_NAME = "add_user"


def username_check(username: str) -> None:
    """Raise ApplicationError ("username: ...") unless `username` is a user name every way of
    making a user accepts: not empty, at most 150 characters, within the text policy
    (labeling/text_policy.py) and Django's user-name rule (UnicodeUsernameValidator). So
    "<b>x</b>", a zero-width space or "\\u202emoc.evil" (shown as "live.com") are refused."""
    if not username:
        raise ApplicationError("username: a user name is needed")
    try:
        check_text(username, "username", USERNAME_MAX)
    except TextError as exc:
        raise ApplicationError(str(exc)) from None
    try:
        username_validator(username)
    except ValidationError as exc:
        raise ApplicationError(f"username: {' '.join(exc.messages)}") from None


def user_create(
    *, username: str, role: str, password: str | None = None, project: Project | None = None
) -> tuple[User, ApiToken]:
    """Create a user with `role` (member of `project` if given) and a named API token for them.
    Returns the user and the token, whose `.key` holds the key: shown once, stored only as a
    hash (labeling.research_auth). ApplicationError naming the field for a bad user name
    (`username_check`), role, or a taken name; nothing is stored then."""
    username = username.strip()
    username_check(username)
    if role not in Role.values:
        raise ApplicationError(f"role: must be one of {', '.join(Role.values)}, got {role!r}")
    if User.objects.filter(username=username).exists():
        raise ApplicationError(f"username: a user named {username!r} already exists")
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
