"""Production settings (issue 13, "Doors"): safe by default, weak values refused at start-up,
`manage.py check --deploy` clean. Each case starts a real process with the settings module, as
a deployment does."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT

GOOD_KEY = "k3Y-for-tests-only_9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a"
BASE_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": GOOD_KEY,
    "DJANGO_ALLOWED_HOSTS": "labels.example.org",
    # production refuses SQLite; nothing here connects to it
    "DATABASE_URL": "postgres://prm@127.0.0.1:1/prm",
    "PATH": "/usr/bin:/bin",
}


def _run(env: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _settings(env: dict, *names) -> subprocess.CompletedProcess:
    code = "import django; django.setup(); from django.conf import settings as s; " + "; ".join(
        f"print({name!r}, repr(getattr(s, {name!r})))" for name in names
    )
    return _run(env, "-c", code)


def test_check_deploy_is_clean_under_production_settings():
    """Catches: no HSTS, SSL-redirect or secure-cookie defaults in production (the deploy check
    warned about each)."""
    done = _run(BASE_ENV, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_https_settings_default_to_safe_and_come_from_the_environment():
    done = _settings(
        BASE_ENV,
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_PROXY_SSL_HEADER",
        "DEBUG",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:-1] == [
        "SECURE_SSL_REDIRECT True",
        "SECURE_HSTS_SECONDS 31536000",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS True",
        "SESSION_COOKIE_SECURE True",
        "CSRF_COOKIE_SECURE True",
        "SECURE_PROXY_SSL_HEADER ('HTTP_X_FORWARDED_PROTO', 'https')",
        "DEBUG False",
    ]
    changed = _settings(
        {**BASE_ENV, "DJANGO_SECURE_HSTS_SECONDS": "600", "DJANGO_SECURE_HSTS_PRELOAD": "true"},
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_PRELOAD",
    )
    assert changed.stdout.split("\n")[:-1] == [
        "SECURE_HSTS_SECONDS 600",
        "SECURE_HSTS_PRELOAD True",
    ]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DJANGO_SECRET_KEY", "short-but-not-empty-32-chars-xxxx", "at least 50"),
        ("DJANGO_SECRET_KEY", "a" * 60, "at least 50"),  # long, but one character
        ("DJANGO_SECRET_KEY", "django-insecure-" + "x1y2z3" * 10, "at least 50"),
        ("DJANGO_ALLOWED_HOSTS", "*", "never '*'"),
        ("DJANGO_ALLOWED_HOSTS", "labels.example.org,*", "never '*'"),
        ("DATABASE_URL", "sqlite:////tmp/x.sqlite3", "PostgreSQL"),
    ],
)
def test_weak_production_values_stop_start_up(variable, value, message):
    """Catches: a short SECRET_KEY and ALLOWED_HOSTS='*' were accepted in production."""
    done = _settings({**BASE_ENV, variable: value}, "DEBUG")
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and message in done.stderr


def test_missing_secret_key_or_hosts_stop_start_up():
    for variable in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"):
        env = {k: v for k, v in BASE_ENV.items() if k != variable}
        done = _settings(env, "DEBUG")
        assert done.returncode != 0 and variable in done.stderr
