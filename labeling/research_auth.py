"""Authentication for scripts and the browser: named per-user API tokens, and a login form that
slows down password guessing.

Tokens: a user may hold several named tokens (one per script or machine) and revoke each on its
own. The key is shown once; the database keeps its sha256, so a leaked database leaks no key.
"""

import hashlib
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from labeling.models import ApiToken, User

KEY_BYTES = 30  # 40 characters of URL-safe base64
PREFIX_LENGTH = 8
MAX_TOKENS_PER_USER = 50
# `last_used_at` is written at most this often per token (a write per request would be waste).
LAST_USED_RESOLUTION = timedelta(minutes=5)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


_DRF_KEY = re.compile(r"[0-9a-f]{40}")


def _new_key() -> str:
    """A key that can never be mistaken for one of DRF's own (40 lowercase hex characters), so
    authentication can tell them apart without a database read."""
    while True:
        key = secrets.token_urlsafe(KEY_BYTES)
        if not _DRF_KEY.fullmatch(key):
            return key


def token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token of `user`; returns it and its key (which is never stored)."""
    from labeling.errors import ApplicationError

    name = name.strip()
    if not name:
        raise ApplicationError("A token needs a name.")
    with transaction.atomic():
        # Lock the user row so two concurrent creations cannot both pass the limit.
        User.objects.select_for_update().filter(pk=user.pk).first()
        if ApiToken.objects.filter(user=user).count() >= MAX_TOKENS_PER_USER:
            raise ApplicationError(
                f"You already have {MAX_TOKENS_PER_USER} tokens; revoke one first."
            )
        key = _new_key()
        token = ApiToken.objects.create(
            user=user, name=name[:100], key_hash=_digest(key), prefix=key[:PREFIX_LENGTH]
        )
    return token, key


def token_revoke(*, user: User, token_id: int) -> bool:
    """Delete one of the user's own tokens; False if there is no such token of theirs."""
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    return bool(deleted)


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>` for keys of named tokens. A key that is not one of them is
    left to the next authentication class (DRF's own tokens), which rejects unknown keys."""

    def authenticate_credentials(self, key):
        if not key or _DRF_KEY.fullmatch(key):  # DRF's token: the next class reads it
            return None
        token = ApiToken.objects.filter(key_hash=_digest(key)).select_related("user").first()
        if token is None:
            return None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "labeling.research_auth.ApiTokenAuthentication"
    name = "apiTokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`: create a key at /account/tokens/ or POST /api/tokens/.",
        }


# --- the login form ---------------------------------------------------------------------------


def _client_address(request) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def _failures_key(request, username: str) -> str:
    digest = hashlib.sha256(f"{_client_address(request)}|{username.lower()}".encode()).hexdigest()
    return f"login-failures:{digest}"


class ThrottledLoginView(auth_views.LoginView):
    """Django's login view, refusing (429) a client address and user name pair after
    `LOGIN_FAILURE_LIMIT` failed attempts within `LOGIN_FAILURE_WINDOW_SECONDS`. A successful
    login clears the count. The count lives in the cache (shared via Redis in production)."""

    def post(self, request, *args, **kwargs):
        username = request.POST.get("username", "")
        key = _failures_key(request, username)
        if cache.get(key, 0) >= settings.LOGIN_FAILURE_LIMIT:
            form = self.get_form()
            form.errors.clear()
            form.add_error(
                None, "Too many failed attempts for this account. Wait a while and try again."
            )
            response = self.render_to_response(self.get_context_data(form=form))
            response.status_code = 429
            response["Retry-After"] = str(settings.LOGIN_FAILURE_WINDOW_SECONDS)
            return response
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            cache.delete(key)
        else:
            try:
                cache.incr(key)
            except ValueError:  # not in the cache yet
                cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)
        return response
