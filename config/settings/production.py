"""Production: secrets and hosts must come from the environment; nothing insecure by default.

Start-up fails (ImproperlyConfigured) on a missing or weak secret key, a wildcard or missing
ALLOWED_HOSTS, or SQLite. `manage.py check --deploy` is clean with these defaults
(tests/config/test_production_settings.py). The app expects a TLS-terminating reverse proxy in
front (docs/operators.md, "HTTPS and the reverse proxy").
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DATABASES, env

# Django's own bar for a strong key (its deploy check, security.W009): 50+ characters, 5+
# different ones, not a generated development key.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE = 5

SECRET_KEY = env.str("DJANGO_SECRET_KEY")  # no default: start-up fails without it
if (
    len(SECRET_KEY) < SECRET_KEY_MIN_LENGTH
    or len(set(SECRET_KEY)) < SECRET_KEY_MIN_UNIQUE
    or SECRET_KEY.startswith("django-insecure-")
):
    raise ImproperlyConfigured(
        f"DJANGO_SECRET_KEY must be at least {SECRET_KEY_MIN_LENGTH} random characters, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )
DEBUG = False
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
if not ALLOWED_HOSTS or any(host.strip() in ("*", "") for host in ALLOWED_HOSTS):
    raise ImproperlyConfigured(
        "DJANGO_ALLOWED_HOSTS must name the site's host names (comma separated), never '*'"
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    raise ImproperlyConfigured("production needs DATABASE_URL pointing at PostgreSQL")
# Persistent connections: opening a PostgreSQL connection per request (CONN_MAX_AGE=0) costs a
# few milliseconds of CPU in the web worker and in PostgreSQL, on every draft save. Each worker
# thread keeps its own connection for this long, checked before reuse (docs/operators.md).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# HTTPS. The reverse proxy terminates TLS and says so in X-Forwarded-Proto (it must set or strip
# that header: a client could otherwise claim https). Plain http is redirected, except the
# health check that the container runtime asks on the inside.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("DJANGO_BEHIND_PROXY", default=True) else None
)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# HSTS: browsers use https only, for a year, on subdomains too. Preloading (hstspreload.org) is
# a commitment for the whole domain that its owner makes: opt in with the variable.
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
if not SECURE_HSTS_PRELOAD:
    # the deploy check's reminder that preloading exists (security.W021): a decision for the
    # domain's owner, not a missing setting
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
