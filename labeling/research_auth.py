"""Authentication for scripts and the browser: named per-user API tokens, and a login form that
slows down password guessing.

Tokens: a user may hold several named tokens (one per script or machine) and revoke each on its
own. The key is shown once; the database keeps only its sha256, so a leaked database (or backup)
leaks no key. There is no other kind of token: DRF's `authtoken` table, which kept keys in
plaintext, was converted to these and dropped (migration `drop_plaintext_drf_tokens`).

Lookups are cached: an authenticated request whose key was seen in the last
TOKEN_CACHE_SECONDS costs no database query. Revoking a token, deleting it (or its user), and
saving its user (deactivation, a new role) delete the cached entries at once, so they take
effect on the next request. Were the cache unreachable at that moment, an entry it had kept
would live at most TOKEN_CACHE_SECONDS longer.
"""

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.throttling import ScopedRateThrottle

from labeling import login_limits
from labeling.models import ApiToken, User

KEY_BYTES = 30  # 40 characters of URL-safe base64
PREFIX_LENGTH = 8
MAX_TOKENS_PER_USER = 50
# `last_used_at` is written at most this often per token (a write per request would be waste).
LAST_USED_RESOLUTION = timedelta(minutes=5)
# A looked-up token (with its user) is reused from the cache for this long; see the docstring.
TOKEN_CACHE_SECONDS = 60


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _cache_key(key_hash: str) -> str:
    return f"api-token:{key_hash}"


def token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token of `user`; returns it and its key (which is never stored)."""
    from labeling.errors import ApplicationError
    from labeling.text_policy import TextError, check_text, is_blank

    name = name.strip()
    if is_blank(name):  # "\u200b" is as nameless as "" (labeling/text_policy.py)
        raise ApplicationError("A token needs a name.")

    try:  # the same text policy as every other stored text (the HTML form posts raw text)
        check_text(name, "name", ApiToken._meta.get_field("name").max_length)
    except TextError as exc:
        raise ApplicationError(str(exc)) from None
    with transaction.atomic():
        # Lock the user row so two concurrent creations cannot both pass the limit.
        User.objects.select_for_update().filter(pk=user.pk).first()
        if ApiToken.objects.filter(user=user).count() >= MAX_TOKENS_PER_USER:
            raise ApplicationError(
                f"You already have {MAX_TOKENS_PER_USER} tokens; revoke one first."
            )
        key = secrets.token_urlsafe(KEY_BYTES)
        token = ApiToken.objects.create(
            user=user, name=name[:100], key_hash=_digest(key), prefix=key[:PREFIX_LENGTH]
        )
    return token, key


def token_revoke(*, user: User, token_id: int) -> bool:
    """Delete one of the user's own tokens (it stops working at once); False if there is no
    such token of theirs."""
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    return bool(deleted)


def _forget(key_hashes) -> None:
    keys = [_cache_key(h) for h in key_hashes]
    if keys:
        cache.delete_many(keys)


@receiver(post_delete, sender=ApiToken)
def _token_deleted(sender, instance, **kwargs):
    _forget([instance.key_hash])
    # and again after the deleting transaction commits: a request that read the row just
    # before the delete may have cached it meanwhile
    transaction.on_commit(lambda: _forget([instance.key_hash]))


@receiver(post_save, sender=User)
def _user_saved(sender, instance, created, update_fields=None, **kwargs):
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # every login saves this; it changes nothing a token grants
    if not created:  # a new user has no tokens yet
        hashes = list(ApiToken.objects.filter(user=instance).values_list("key_hash", flat=True))
        _forget(hashes)
        transaction.on_commit(lambda: _forget(hashes))


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`: the key of a named token, looked up by its sha256
    (cached; see the module docstring). Unknown keys are 401."""

    def authenticate_credentials(self, key):
        key_hash = _digest(key)
        cached = cache.get(_cache_key(key_hash))
        if cached is not None:
            token, user = cached
            return user, token
        token = ApiToken.objects.filter(key_hash=key_hash).select_related("user").first()
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        cache.set(_cache_key(key_hash), (token, token.user), timeout=TOKEN_CACHE_SECONDS)
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


class ClientAddressThrottle(ScopedRateThrottle):
    """DRF's scoped throttle, keyed on `login_limits.client_address` (which believes
    X-Forwarded-For only from TRUSTED_PROXIES) instead of DRF's own reading of the header."""

    def get_ident(self, request):
        return login_limits.client_address(request)


# --- the login form ---------------------------------------------------------------------------


class ThrottledLoginView(auth_views.LoginView):
    """Django's login view under the password-guessing limits of `labeling.login_limits`: an
    attempt past a limit is refused (429, with `Retry-After`) without checking its password."""

    def post(self, request, *args, **kwargs):
        attempt = login_limits.login_attempt_begin(
            request=request, username=request.POST.get("username", "")
        )
        if attempt.refused:
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, login_limits.REFUSED_MESSAGE)
            response = self.render_to_response(self.get_context_data(form=form))
            response.status_code = 429
            response["Retry-After"] = str(attempt.retry_after)
            return response
        response = super().post(request, *args, **kwargs)
        login_limits.login_attempt_end(attempt, success=request.user.is_authenticated)
        return response
