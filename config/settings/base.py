"""Settings shared by every environment.

All configuration comes from the environment (or a `.env` file at the project root) through one
django-environ reader, `env`. Invalid values fail here, at start-up, not at first use.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# The demo's own compact slice of real data, in the repository (demo/README.md): `make demo`
# needs nothing beside the checkout.
DEMO_DATA_DIR = Path(env.str("DEMO_DATA_DIR", default=str(BASE_DIR / "demo" / "data")))
# The full real data sets (../shared/data/DATA.md), read by tests, benchmarks and the
# simulation, never by the demo; beside the checkout unless SHARED_DATA_DIR says where.
SHARED_DATA_DIR = Path(env.str("SHARED_DATA_DIR", default=str(BASE_DIR.parent / "shared" / "data")))

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-dev-key-never-use-in-production")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "template_partials",
    "labeling",
    "active_learning",
]

# Django's database sessions, read with a prepared statement on PostgreSQL (config/sessions.py)
SESSION_ENGINE = "config.sessions"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # ops: the Content-Security-Policy header (CONTENT_SECURITY_POLICY below); django-csp's
    # middleware, the settings' policy built once per process (config/middleware.py)
    "config.middleware.SettingsPolicyCSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # an /api/ request body over DATA_UPLOAD_MAX_MEMORY_SIZE: 413 JSON, a warning in the log
    "config.middleware.ApiRequestSizeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # an empty 405 (a GET on a form-only URL) outside /api/: the styled page (config/error_views.py)
    "config.error_views.MethodNotAllowedPageMiddleware",
    # ops: a database connection error in a view is a 503 with Retry-After, not a 500
    "config.middleware.DatabaseUnavailableMiddleware",
    # an ApplicationError a page did not catch: its status (labeling/errors.py), not a 500
    "labeling.error_edges.ApplicationErrorMiddleware",
]

# a form without a valid CSRF token: the styled "form expired" page (JSON under /api/)
CSRF_FAILURE_VIEW = "config.error_views.csrf_failure"

# Content-Security-Policy (django-csp): scripts, styles, fonts, images and requests from this
# origin only; no inline script or style, no eval, no plugins, no framing. Every page keeps its
# scripts and styles in static files (htmx is told not to inject its indicator style: the
# htmx-config meta tag in base.html); KaTeX styles its output through the DOM (allowed).
# The two third-party API documentation pages relax styles only (views in config/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# SQLite under var/ is the embedded default; DATABASE_URL=postgres://... switches, no code change.
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; the busy timeout makes writers queue
    # instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
# The labeling hot path's own statements are prepared once per connection (labeling/hot_sql.py);
# turn off behind PgBouncer in transaction mode older than 1.21.
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Seconds a client is told to wait (Retry-After of the 503) when the database is unreachable.
DATABASE_UNAVAILABLE_RETRY_AFTER = env.int("DATABASE_UNAVAILABLE_RETRY_AFTER", default=5)

AUTH_USER_MODEL = "labeling.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # named per-user tokens, stored hashed (`add_user` prints one); cached lookups
        "labeling.research_auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # every JSON body: an object, at most 64 levels deep, within the size limit
    # (labeling/json_body.py)
    "DEFAULT_PARSER_CLASSES": [
        "labeling.json_body.JsonObjectParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # ?page= and ?page_size= checked, a bad value a 400 naming it (labeling/api_paging.py)
    "DEFAULT_PAGINATION_CLASS": "labeling.api_paging.Pagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # ApplicationError -> 404 / 409 / 400 for every API view (labeling/error_edges.py)
    "EXCEPTION_HANDLER": "labeling.error_edges.api_exception_handler",
    # Rate limits: obtaining a token with a password, and managing tokens.
    "DEFAULT_THROTTLE_RATES": {
        "token_obtain": env.str("API_TOKEN_OBTAIN_RATE", default="10/min"),
        "tokens": env.str("API_TOKENS_RATE", default="60/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Step labeling API",
    "DESCRIPTION": "Projects, problems, solutions, labelings (as PRM800K records), model "
    "versions, statistics, background exports and imports. See docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and Redoc from the installed sidecar package: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "labeling.models.JobStatus",
        "ModelStatusEnum": "active_learning.models.ModelStatus",
        "RunStatusEnum": "active_learning.models.RunStatus",
        "LabelingStatusEnum": "labeling.models.LabelingStatus",
        "FinishReasonEnum": "labeling.models.FinishReason",
        "AssignmentKindEnum": ["task", "screening"],  # labeling.api_serializers.KINDS
    },
}
# Files of background exports and uploaded imports.
JOBS_DIR = Path(env.str("JOBS_DIR", default=str(VAR_DIR / "jobs")))
# Size limits of one imported record (docs/formats.md, "Text and size limits"). The real data
# stays far below the defaults (PRM800K: at most 106 steps, 7 completions at a step, 17 KB a
# line; MATH: texts under 7,000 characters); a record past a limit is refused with
# `FILE:LINE: field: what is wrong`. Invalid values stop the start-up here.
IMPORT_MAX_STEPS = env.int("IMPORT_MAX_STEPS", default=1000)
IMPORT_MAX_COMPLETIONS = env.int("IMPORT_MAX_COMPLETIONS", default=100)
IMPORT_MAX_TEXT_CHARS = env.int("IMPORT_MAX_TEXT_CHARS", default=100_000)
IMPORT_MAX_RECORD_BYTES = env.int("IMPORT_MAX_RECORD_BYTES", default=4 * 1024 * 1024)


def _check_import_limits() -> None:
    from django.core.exceptions import ImproperlyConfigured

    from labeling.text_policy import ImportLimits

    try:
        ImportLimits(
            max_steps=IMPORT_MAX_STEPS,
            max_completions=IMPORT_MAX_COMPLETIONS,
            max_text_chars=IMPORT_MAX_TEXT_CHARS,
            max_record_bytes=IMPORT_MAX_RECORD_BYTES,
        )
    except ValueError as exc:
        name, problem = str(exc).split(":", 1)
        raise ImproperlyConfigured(f"IMPORT_{name.upper()}:{problem}") from None


_check_import_limits()
# Password guessing, on the login form and the token endpoint (labeling/login_limits.py): failed
# attempts allowed per window, per client address + user name, per address across names, and per
# account across addresses (past which only addresses it logged in from before get in).
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=900)
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=30)
LOGIN_ACCOUNT_FAILURE_LIMIT = env.int("LOGIN_ACCOUNT_FAILURE_LIMIT", default=100)
LOGIN_KNOWN_ADDRESS_DAYS = env.int("LOGIN_KNOWN_ADDRESS_DAYS", default=30)
# Reverse proxies (addresses or networks, e.g. 10.0.0.0/8) whose X-Forwarded-For is believed for
# the client address; empty: the header is ignored and the connection's address is the client's.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# Celery. REDIS_URL switches the broker to Redis; without it the embedded default is kombu's
# filesystem transport under var/broker, which needs no server (the demo). Both run a real worker.
REDIS_URL = env.str("REDIS_URL", default="")
BROKER_DIR = Path(env.str("CELERY_BROKER_DIR", default=str(VAR_DIR / "broker")))
# Redis gives a delivered but unacknowledged message (its worker died, or held it across a Redis
# restart) back to the queue after this many seconds. It must exceed the longest task's hard
# time limit (training: 6 h + 60 s), else a task still running is delivered a second time.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=7 * 3600)
# How often a worker looks for such messages (one indexed Redis read; kombu's default is 100 s).
CELERY_UNACKED_RESTORE_SECONDS = env.int("CELERY_UNACKED_RESTORE_SECONDS", default=10)
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        # Look for such messages every CELERY_UNACKED_RESTORE_SECONDS, not every 100 s (kombu's
        # default), so they are back within seconds of their timeout.
        "unacked_restore_interval": CELERY_UNACKED_RESTORE_SECONDS,
        "unacked_restore_throttle": 1,
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
# Cache (computed statistics, debounce markers): shared by every web process and worker, so
# that a worker's refresh reaches the dashboard. Redis when there is one, else files under var/
# (the demo); CACHE_URL overrides both (django-environ's cache URL syntax).
CACHES = {
    "default": env.cache_url(
        "CACHE_URL",
        default=(
            REDIS_URL.replace("redis://", "rediscache://", 1)
            if REDIS_URL
            else f"filecache://{VAR_DIR / 'cache'}"
        ),
        backend="django_redis.cache.RedisCache" if REDIS_URL else None,
    )
}
if CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache":
    # Degrade, don't crash: with Redis down a cache read is a miss and a write is dropped (login,
    # token login and statistics keep working; /healthz says the cache is down), within half a
    # second, never hanging on an unreachable host.
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 1.0}
    )

# Job state and progress live in our own tables (visible in the UI), so no result backend is needed.
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = False

# The PRM: where checkpoints live, and the backbone new versions start from ("smollm2" is the
# offline demo backbone; any Hugging Face id or local folder works).
MODELS_DIR = Path(env.str("PRM_MODELS_DIR", default=str(VAR_DIR / "models")))
PRM_BACKBONE = env.str("PRM_BACKBONE", default="smollm2")
# The generator's default model (docs/generator.md): a Hugging Face id, a local folder, or
# "smollm2" (the shipped demo backbone; its solutions are poor, but it runs offline on a CPU).
GENERATOR_MODEL = env.str("GENERATOR_MODEL", default="smollm2")
# `make demo` queues one generator run on the shipped backbone at start (issue 18); it holds the
# demo's one gpu worker for a minute or two. Off: the generator project is made, no run queued.
DEMO_GENERATOR_RUN = env.bool("DEMO_GENERATOR_RUN", default=True)
# Phase 1 (docs/phase1.md): the watchdog sends a request for proposed next steps again when it
# is still pending this many seconds after it was made (the broker was down, a message was lost).
PHASE1_ANSWER_AFTER_SECONDS = env.int("PHASE1_ANSWER_AFTER_SECONDS", default=5 * 60)
# The most new tokens the generator writes for one proposed next step (a step is a sentence or
# two; the sample is cut at its first step anyway).
PHASE1_MAX_NEW_TOKENS = env.int("PHASE1_MAX_NEW_TOKENS", default=128)
# The device a worker scores and trains on (e.g. cuda:1: one gpu worker per GPU on a multi-GPU
# host, docs/operators.md). Empty: cuda:0 when there is a GPU, else the CPU.
PRM_DEVICE = env.str("PRM_DEVICE", default="")
# A running loop run silent for this long is failed by the watchdog (its worker was lost).
ACTIVE_LEARNING_STALE_SECONDS = env.int("ACTIVE_LEARNING_STALE_SECONDS", default=15 * 60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"client_error_one_line": {"()": "config.log_filters.ClientErrorOneLine"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # a 403 or 404 is one warning line, never a traceback (config/log_filters.py)
    "loggers": {"django.request": {"filters": ["client_error_one_line"]}},
}
