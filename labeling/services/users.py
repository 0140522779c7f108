"""Creating users and their API tokens."""

import unicodedata

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


# Scripts whose letters look alike (U+0430 CYRILLIC SMALL LETTER A and the Latin a, U+03BF GREEK
# SMALL LETTER OMICRON and the Latin o): mixing them is how "\u0430dmin" passes for "admin".
# Checked by the first word of each letter's Unicode name, not with a confusables library
# (Unicode TR 39 skeletons): none is in the stack (pyproject.toml, 2026-12), and this small rule
# refuses the usual look-alikes without one. Other scripts (Arabic, CJK...) are not restricted.
_LOOKALIKE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")


def _lookalike_scripts(username: str) -> list[str]:
    """The look-alike scripts (LATIN, CYRILLIC, GREEK) whose letters `username` holds, in the
    order first met: e.g. ["CYRILLIC", "LATIN"] for "\u0430dmin"."""
    found: list[str] = []
    for char in username:
        if char.isalpha():
            script = unicodedata.name(char, "").split(" ", 1)[0]
            if script in _LOOKALIKE_SCRIPTS and script not in found:
                found.append(script)
    return found


def username_check(username: str) -> None:
    """Raise ApplicationError ("username: ...") unless `username` is a user name every way of
    making a user accepts: not empty, at most 150 characters, within the text policy
    (labeling/text_policy.py) and Django's user-name rule (UnicodeUsernameValidator). So
    "<b>x</b>", a zero-width space or "\\u202emoc.evil" (shown as "live.com") are refused,
    and so is a name mixing Latin, Cyrillic or Greek letters ("\\u0430dmin" looks like
    "admin")."""
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
    scripts = _lookalike_scripts(username)
    if len(scripts) > 1:
        raise ApplicationError(
            f"username: mixes {' and '.join(s.title() for s in scripts)} letters, which can "
            "look alike (a Cyrillic a, U+0430, passes for a Latin a); use letters of one script"
        )


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
    # Case-insensitively (Django compares user names case-sensitively): "Annotator" next to
    # "annotator" would be a second person who looks like the first. Login is unchanged.
    # Compared in Python (str.casefold) because SQLite's iexact folds ASCII letters only and
    # both databases must agree; users are made rarely and number hundreds, not millions.
    folded = username.casefold()
    for taken in User.objects.values_list("username", flat=True).iterator():
        if taken == username:
            raise ApplicationError(f"username: a user named {username!r} already exists")
        if taken.casefold() == folded:
            raise ApplicationError(
                f"username: {taken!r} already exists; names differing only in case are refused"
            )
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
