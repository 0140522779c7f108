"""The doors: password-guessing limits on both login paths (the form and the token endpoint),
the client address behind proxies, and their atomicity under parallel guesses (issue 13,
"Doors"). The policy is in labeling/login_limits.py and docs/operators.md."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from labeling import research_api
from labeling.login_limits import client_address
from labeling.models import Role
from tests.factories import UserFactory
from tests.private_services import RedisServer

PASSWORD = "pw-for-tests"  # tests.factories.UserFactory's


def _token(client, username, password, **extra):
    return client.post(
        "/api/auth/token/",
        {"username": username, "password": password, "name": "t"},
        format="json",
        **extra,
    )


def _login(client, username, password, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


# --- the client address -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "expected"),
    [
        # no trusted proxy: the header is ignored, whatever it says
        ("203.0.113.9", "1.2.3.4", [], "203.0.113.9"),
        # a peer that is not a trusted proxy cannot speak for anyone else
        ("203.0.113.9", "1.2.3.4", ["10.0.0.0/8"], "203.0.113.9"),
        # through a trusted proxy: the address it appended
        ("10.0.0.2", "198.51.100.7", ["10.0.0.0/8"], "198.51.100.7"),
        # the client's own (forged) entries left of it are not believed
        ("10.0.0.2", "1.2.3.4, 198.51.100.7", ["10.0.0.0/8"], "198.51.100.7"),
        # two trusted hops: the right-most untrusted address
        ("10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.3", ["10.0.0.0/8"], "198.51.100.7"),
        # garbage in the header: stop at the last address a trusted proxy vouched for
        ("10.0.0.2", "198.51.100.7, not-an-ip", ["10.0.0.0/8"], "10.0.0.2"),
        ("10.0.0.2", "[2001:db8::1]:4711", ["10.0.0.2"], "2001:db8::1"),
        ("10.0.0.2", "", ["10.0.0.2"], "10.0.0.2"),
    ],
)
def test_the_client_address_believes_forwarded_for_only_from_trusted_proxies(
    settings, remote, forwarded, trusted, expected
):
    settings.TRUSTED_PROXIES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


# --- limits, one request at a time ------------------------------------------------------------


@pytest.mark.django_db
def test_rotating_x_forwarded_for_does_not_reset_the_token_endpoint_limit(settings):
    """Catches the old bypass: DRF's throttle keyed on X-Forwarded-For, so a new forged address
    per request was a new client."""
    settings.LOGIN_FAILURE_LIMIT = 3
    user = UserFactory(role=Role.RESEARCHER)
    client = APIClient()
    for i in range(3):
        assert (
            _token(client, user.username, "x", HTTP_X_FORWARDED_FOR=f"1.2.3.{i}").status_code == 400
        )
    refused = _token(client, user.username, PASSWORD, HTTP_X_FORWARDED_FOR="9.9.9.9")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0


@pytest.mark.django_db
def test_the_token_endpoint_locks_an_account_for_the_guessing_address(settings):
    """Catches: no per-account limit on the token endpoint (the old one had only a request
    rate per address)."""
    settings.LOGIN_FAILURE_LIMIT = 3
    user = UserFactory(role=Role.RESEARCHER)
    guesser, owner = APIClient(REMOTE_ADDR="198.51.100.1"), APIClient(REMOTE_ADDR="198.51.100.2")
    for _ in range(3):
        assert _token(guesser, user.username, "x").status_code == 400
    assert _token(guesser, user.username, PASSWORD).status_code == 429
    # the form counts the same guesses: one policy for both doors
    assert _login(Client(REMOTE_ADDR="198.51.100.1"), user.username, PASSWORD).status_code == 429
    # the owner, elsewhere, is not locked out
    assert _token(owner, user.username, PASSWORD).status_code == 201


@pytest.mark.django_db
def test_guesses_across_user_names_from_one_address_are_limited(settings):
    """Catches: nothing limited guesses spread over many user names (password spraying)."""
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 4
    real = UserFactory(role=Role.ANNOTATOR)
    sprayer = Client(REMOTE_ADDR="198.51.100.3")
    for i in range(4):
        assert _login(sprayer, f"nobody-{i}", "x").status_code == 200  # the form with its error
    assert _login(sprayer, real.username, PASSWORD).status_code == 429
    assert _token(APIClient(REMOTE_ADDR="198.51.100.3"), real.username, "x").status_code == 429
    # the real user, from their own address, is unaffected
    assert _login(Client(REMOTE_ADDR="198.51.100.4"), real.username, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_nobody_behind_the_proxy_can_lock_another_users_account(settings):
    """Catches: behind a proxy every client had the proxy's address, so anyone's failed
    guesses locked the account for everyone. With the proxy trusted, each client counts on its
    own address; and even many addresses guessing at one account lock out only new addresses,
    never the one its owner logs in from."""
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 6
    victim = UserFactory(role=Role.ANNOTATOR)

    def via_proxy(address):
        return Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=address)

    home = "198.51.100.10"
    assert _login(via_proxy(home), victim.username, PASSWORD).status_code == 302  # known address
    for attacker in range(4):  # 4 addresses x 3 guesses: past the account-wide limit
        for _ in range(3):
            _login(via_proxy(f"203.0.113.{attacker}"), victim.username, "x")
    assert _login(via_proxy("203.0.113.0"), victim.username, PASSWORD).status_code == 429
    assert _login(via_proxy("203.0.113.99"), victim.username, PASSWORD).status_code == 429
    assert _login(via_proxy(home), victim.username, PASSWORD).status_code == 302
    token = _token(
        APIClient(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=home), victim.username, PASSWORD
    )
    assert token.status_code == 201


@pytest.mark.django_db
def test_an_office_behind_one_address_never_locks_itself_out_by_logging_in(settings):
    """Successful logins give their places back: only failures count."""
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 3
    users = [UserFactory(role=Role.ANNOTATOR) for _ in range(6)]
    for user in users:
        assert (
            _login(Client(REMOTE_ADDR="198.51.100.20"), user.username, PASSWORD).status_code == 302
        )


# --- limits under parallel guesses, on a real Redis -------------------------------------------

PARALLEL = 60


@pytest.fixture
def redis_cache(settings, tmp_path):
    """The cache on a real Redis of the test's own (Redis INCR is what makes the counts
    atomic across processes), as production configures it."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5},
        }
    }
    yield server
    server.stop()


def _parallel(call) -> list[int]:
    barrier = threading.Barrier(PARALLEL)

    def one(_):
        barrier.wait()
        try:
            return call()
        finally:
            connection.close()  # the thread's own connection (the test client keeps it open)

    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(one, range(PARALLEL)))


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_on_the_token_endpoint_check_exactly_the_limit(
    settings, redis_cache, monkeypatch
):
    """Catches the old race: 11 of 60 parallel guesses got a password check through a limit
    of 5. Each attempt takes its place before its password is checked, so exactly 5 do. (One
    thread per request, each with its own database connection, all released at once.)

    The endpoint's per-address request rate (DRF's ClientAddressThrottle, 10/min) is left out
    here, so only the guessing limit under test decides: with it, a CI run under load saw 3
    password checks instead of 5 (the rate limit has its own tests)."""
    monkeypatch.setattr(research_api.TokenObtainView, "throttle_classes", [])
    settings.LOGIN_FAILURE_LIMIT = 5
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 1000  # only the address + account limit binds
    user = UserFactory(role=Role.RESEARCHER)
    statuses = _parallel(lambda: _token(APIClient(), user.username, "wrong").status_code)
    assert statuses.count(400) == 5, statuses
    assert statuses.count(429) == PARALLEL - 5, statuses


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_on_the_login_form_check_exactly_the_limit(settings, redis_cache):
    settings.LOGIN_FAILURE_LIMIT = 5
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 1000
    user = UserFactory(role=Role.ANNOTATOR)
    statuses = _parallel(lambda: _login(Client(), user.username, "wrong").status_code)
    assert statuses.count(200) == 5, statuses  # the form again, with "wrong password"
    assert statuses.count(429) == PARALLEL - 5, statuses
