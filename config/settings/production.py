"""Production: secrets and hosts must come from the environment; nothing insecure by default."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DATABASES, env

SECRET_KEY = env.str("DJANGO_SECRET_KEY")  # no default: start-up fails without it
if len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 32 characters")
DEBUG = False
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    raise ImproperlyConfigured("production needs DATABASE_URL pointing at PostgreSQL")
# Persistent connections: opening a PostgreSQL connection per request (CONN_MAX_AGE=0) costs a
# few milliseconds of CPU in the web worker and in PostgreSQL, on every draft save. Each worker
# thread keeps its own connection for this long, checked before reuse (docs/operators.md).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
