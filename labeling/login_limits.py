"""Limits on password guessing, shared by both ways to log in with a password (the login form and
`POST /api/auth/token/`), and the client address they are keyed on.

The policy (docs/operators.md, "Login limits"); every count is of *failed* attempts in a fixed
window of `LOGIN_FAILURE_WINDOW_SECONDS` (15 min) that starts at the first one:

1. **address + user name**: `LOGIN_FAILURE_LIMIT` (5). Only guesses from that address count, so
   nobody can lock someone else's account by guessing at it from elsewhere.
2. **address**, across user names: `LOGIN_ADDRESS_FAILURE_LIMIT` (30): one address trying one
   password on many accounts (password spraying) or many unknown names.
3. **account**, across addresses: `LOGIN_ACCOUNT_FAILURE_LIMIT` (100): many addresses guessing at
   one account. Past it the account takes passwords only from addresses it has logged in from
   (successfully) in the last `LOGIN_KNOWN_ADDRESS_DAYS` days: the owner, at their usual desk,
   still gets in; the guessers, and a traveller on a new address, wait for the window to end.

Atomic: every attempt takes its place in each count (one Redis INCR each) *before* its password
is checked, and an attempt past a limit checks no password. So N parallel guesses against a
limit of 5 check at most 5 passwords (exactly 5 when no other limit binds), whatever the
interleaving (the old check-then-count let 11 of 60 through). A refused attempt, which checked
nothing, and a successful login give their places back (a success also clears its address +
user name count), so a busy office behind one address never locks itself out by logging in.

Why not a library: django-axes checks for a lockout and records the failure in two steps, so
parallel guesses all pass the check first (the race above); DRF's throttles read, append and
write a request history (the same race) and take the client address from X-Forwarded-For
unless told how many proxies there are; django-ratelimit's counters are atomic but count every
request, with no way to give a successful login's place back, so counting only failures would
again need check-then-count. The counts here are three cache keys with `add` + `incr`.

The client address believes X-Forwarded-For only when the connection comes from one of
`TRUSTED_PROXIES` (addresses or networks), and then takes the right-most address in it that is
not itself a trusted proxy (each proxy appends the address it got the request from; everything
left of the last untrusted hop could have been written by the client). Written here, not with
django-ipware: ipware reads the header whoever sent it and matches proxies by position in the
header, never checking that the connection itself came from a proxy.

With the cache (Redis) unreachable the counts cannot be kept: logins are then allowed (logging
in must keep working, issue 13) and each such attempt is logged as a warning.
"""

import contextlib
import hashlib
import ipaddress
import logging
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


# --- the client address ------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _trusted(address, networks) -> bool:
    return any(address in network for network in networks)


def _parse(value: str):
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def client_address(request) -> str:
    """The address of the client that sent `request`: REMOTE_ADDR, or, when that is a trusted
    proxy, the right-most untrusted address of X-Forwarded-For (see the module docstring)."""
    remote = request.META.get("REMOTE_ADDR") or ""
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    address = _parse(remote)
    if address is None or not networks or not _trusted(address, networks):
        return remote or "unknown"
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        parsed = _parse(hop)
        if parsed is None:  # garbage: stop at the last address a trusted proxy vouched for
            break
        address = parsed
        if not _trusted(parsed, networks):
            break
    return str(address)


# --- the counts --------------------------------------------------------------------------------


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _normal(username: str) -> str:
    return username.strip().lower()


@dataclass
class LoginAttempt:
    """One password attempt that has taken its place in the counts. `refused` is the reason it
    may not check a password (None: go ahead); `retry_after` is in seconds."""

    address: str
    username: str
    keys: dict
    refused: str | None = None
    counted: bool = True

    @property
    def retry_after(self) -> int:
        return settings.LOGIN_FAILURE_WINDOW_SECONDS


REFUSED_MESSAGE = "Too many failed attempts. Wait a while and try again."


def _take(key: str) -> int | None:
    """Add one to the count at `key` (starting its window if new); None if the cache is down."""
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    for _ in range(2):  # the key may expire between add and incr
        try:
            cache.add(key, 0, timeout=window)
            value = cache.incr(key)
        except ValueError:
            continue
        except Exception:  # the cache backend's own error: treat as down
            return None
        return value  # None from a cache that ignores its errors (Redis down)
    return None


def _give_back(key: str) -> None:
    with contextlib.suppress(Exception):  # expired meanwhile, or cache down: nothing to give
        cache.decr(key)


def _known_key(username: str, address: str) -> str:
    return f"login-known:{_digest(_normal(username), address)}"


def login_attempt_begin(*, request, username: str) -> LoginAttempt:
    """Count an attempt to log in as `username` from the request's client address, before its
    password is checked. Check `.refused` first; report the outcome with `login_attempt_end`."""
    address = client_address(request)
    name = _normal(username)
    keys = {
        "pair": f"login-fail:pair:{_digest(address, name)}",
        "address": f"login-fail:addr:{_digest(address)}",
        "account": f"login-fail:acct:{_digest(name)}",
    }
    counts = {what: _take(key) for what, key in keys.items()}
    attempt = LoginAttempt(address=address, username=name, keys=keys)
    if any(count is None for count in counts.values()):
        logger.warning("login limits unavailable (cache down): allowing %s from %s", name, address)
        attempt.counted = False
        return attempt
    if counts["pair"] > settings.LOGIN_FAILURE_LIMIT:
        attempt.refused = "account-from-address"
    elif counts["address"] > settings.LOGIN_ADDRESS_FAILURE_LIMIT:
        attempt.refused = "address"
    elif counts["account"] > settings.LOGIN_ACCOUNT_FAILURE_LIMIT and not cache.get(
        _known_key(name, address)
    ):
        attempt.refused = "account"
    if attempt.refused:
        # It checks no password, so it is no guess: give its places back (a user hammering
        # the button after a lockout must not push their whole office past the address limit).
        for key in keys.values():
            _give_back(key)
        attempt.counted = False
        logger.warning("login refused (%s limit): %s from %s", attempt.refused, name, address)
    return attempt


def login_attempt_end(attempt: LoginAttempt, *, success: bool) -> None:
    """A checked password: a success gives the attempt's places back and remembers the address
    as one the account logs in from; a failure stays counted."""
    if not success or not attempt.counted:
        return
    try:
        cache.delete(attempt.keys["pair"])
        cache.set(
            _known_key(attempt.username, attempt.address),
            1,
            timeout=settings.LOGIN_KNOWN_ADDRESS_DAYS * 86400,
        )
    except Exception:
        return
    _give_back(attempt.keys["address"])
    _give_back(attempt.keys["account"])
