"""Degrade, don't crash (issue 13, "Services that fail"): the app under gunicorn, as production
runs it, with its Redis stopped, and across a restart of its PostgreSQL. Real servers of the
test's own (tests/private_services.py); the shared ones are never touched."""

import json
import re
import subprocess
import sys
import uuid

import pytest
import requests

from tests.conftest import ROOT
from tests.private_services import PostgresServer, RedisServer, WebServer

PASSWORD = "a-password-for-tests-1"


def _manage(env, *args) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _add_lead(env, project_name: str) -> tuple[str, str, int]:
    """A project and its lead (with a password): (user name, API key, project id)."""
    code = (
        "from labeling.models import Project; "
        f"print(Project.objects.get_or_create(name={project_name!r})[0].pk)"
    )
    project_id = int(_manage(env, "shell", "-c", code).strip().splitlines()[-1])
    name = f"lead-{uuid.uuid4().hex[:8]}"
    out = _manage(env, "add_user", name, "--role", "lead", "--password", PASSWORD, "--project",
                  project_name)  # fmt: skip
    key = re.search(r"API token: (\S+)", out).group(1)
    return name, key, project_id


def _form_login(session: requests.Session, base: str, name: str) -> requests.Response:
    page = session.get(f"{base}/accounts/login/", timeout=30)
    assert page.status_code == 200
    return session.post(
        f"{base}/accounts/login/",
        data={
            "username": name,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        allow_redirects=False,
        timeout=30,
    )


@pytest.fixture
def web_env(cli_database, tmp_path):
    env = {
        **cli_database,
        "DJANGO_DEBUG": "0",
        "CELERY_BROKER_DIR": str(tmp_path / "broker"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("CACHE_URL", None)
    for folder in ("queue", "processed"):
        (tmp_path / "broker" / folder).mkdir(parents=True)
    return env


def test_with_redis_down_login_token_login_and_statistics_still_work(web_env, tmp_path):
    """Catches: with Redis down the login form, token login and the statistics API answered
    500 (the login limits, DRF's throttle and the statistics all read the cache, which raised).
    Now a cache read is a miss and a write is dropped: logins work (their limits are off
    while Redis is, which is logged), the statistics are computed in the request and say the
    cache is unavailable."""
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    env = {**web_env, "REDIS_URL": redis.url}
    name, key, project_id = _add_lead(env, f"degrade-{uuid.uuid4().hex[:6]}")
    web = WebServer(env, tmp_path / "web.log", ROOT)
    web.start()
    try:
        base = web.url
        auth = {"Authorization": f"Token {key}"}
        stats_url = f"{base}/api/projects/{project_id}/stats/"
        assert requests.get(stats_url, headers=auth, timeout=30).status_code == 200
        redis.stop()  # Redis is down from here on

        login = _form_login(requests.Session(), base, name)
        assert login.status_code == 302, login.text[:500]
        token = requests.post(
            f"{base}/api/auth/token/",
            json={"username": name, "password": PASSWORD, "name": "while redis is down"},
            timeout=30,
        )
        assert token.status_code == 201, token.text[:500]
        stats = requests.get(stats_url, headers=auth, timeout=30)
        assert stats.status_code == 200, stats.text[:500]
        assert stats.json()["cache_unavailable"] is True
        new_key = {"Authorization": f"Token {token.json()['key']}"}
        assert requests.get(f"{base}/api/projects/", headers=new_key, timeout=30).ok
    finally:
        web.stop()
        redis.stop()
    assert "Internal Server Error" not in (tmp_path / "web.log").read_text()


@pytest.mark.postgres
def test_a_postgresql_restart_gives_503_with_retry_after_never_500(web_env, tmp_path):
    """Catches: a PostgreSQL restart gave plain 500s (72 in 1.2 s). While the database is away
    every request (API with a token, a page with a session, the login form) answers 503 with
    Retry-After; once it is back, the same requests succeed, on new connections."""
    server = PostgresServer()
    try:
        server.start()
        env = {**web_env, "DATABASE_URL": server.url, "DATABASE_CONN_MAX_AGE": "60"}
        _manage(env, "migrate", "-v0")
        name, key, _ = _add_lead(env, "restart")
        web = WebServer(env, tmp_path / "web.log", ROOT)
        web.start()
        try:
            base, auth = web.url, {"Authorization": f"Token {key}"}
            browser = requests.Session()
            assert _form_login(browser, base, name).status_code == 302

            def answers():
                return [
                    requests.get(f"{base}/api/projects/", headers=auth, timeout=30),
                    browser.get(f"{base}/", timeout=30),
                    _form_login(requests.Session(), base, name),
                ]

            assert [r.status_code for r in answers()] == [200, 200, 302]
            server.stop()
            during = answers() + answers()
            assert [r.status_code for r in during] == [503] * 6, [r.text[:300] for r in during]
            assert all(int(r.headers["Retry-After"]) > 0 for r in during)
            assert "retry" in json.loads(during[0].text)["detail"]
            server.start()
            after = answers()
            # a connection kept from before the restart fails once at most (503), then is
            # replaced; never a 500
            statuses = [r.status_code for r in after + answers()]
            assert 500 not in statuses and statuses[-3:] == [200, 200, 302], statuses
        finally:
            web.stop()
    finally:
        server.remove()
    assert "Internal Server Error" not in (tmp_path / "web.log").read_text()
