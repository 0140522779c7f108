"""config.middleware.SettingsPolicyCSPMiddleware sets exactly django-csp's headers.

What it catches: a cached policy that differs from the one django-csp builds (a directive
lost or reordered), one that outlives a settings change, a view's csp_update/csp_exempt or a
nonce that the cache ignores, an EXCLUDE_URL_PREFIXES path that gets a header, and a nonce
asked for after the header was written that no longer raises.
"""

import pytest
from csp.exceptions import CSPNonceError
from csp.middleware import CSPMiddleware
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from config.middleware import SettingsPolicyCSPMiddleware

HEADERS = ("Content-Security-Policy", "Content-Security-Policy-Report-Only")


def _answer(middleware_class, path="/api/assignments/next/", before=None, response_attrs=None):
    request = RequestFactory().get(path)
    middleware = middleware_class(lambda request: HttpResponse("x"))
    middleware.process_request(request)
    if before:
        before(request)
    response = HttpResponse("x")
    for name, value in (response_attrs or {}).items():
        setattr(response, name, value)
    response = middleware.process_response(request, response)
    return {h: response.get(h) for h in HEADERS}, request


def same_as_django_csp(**kwargs):
    ours, request = _answer(SettingsPolicyCSPMiddleware, **kwargs)
    theirs, _ = _answer(CSPMiddleware, **kwargs)
    assert ours == theirs
    return ours, request


def test_the_settings_policy_is_django_csps():
    headers, request = same_as_django_csp()
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)  # too late: the header is written


def test_a_views_own_policy_and_a_nonce_go_through_django_csp():
    update = {"_csp_update": {"style-src": ["'unsafe-inline'"]}}
    headers, _ = same_as_django_csp(response_attrs=update)
    assert "'unsafe-inline'" in headers["Content-Security-Policy"]
    headers, _ = same_as_django_csp(response_attrs={"_csp_exempt": True})
    assert headers["Content-Security-Policy"] is None
    same_as_django_csp(before=lambda request: str(request.csp_nonce))


def test_a_changed_setting_is_seen_at_once():
    same_as_django_csp()  # fills the cache
    policy = {"DIRECTIVES": {"default-src": ["'none'"]}, "EXCLUDE_URL_PREFIXES": ["/open/"]}
    report = {"DIRECTIVES": {"img-src": ["https:"]}}
    with override_settings(
        CONTENT_SECURITY_POLICY=policy, CONTENT_SECURITY_POLICY_REPORT_ONLY=report
    ):
        headers, _ = same_as_django_csp()
        assert headers["Content-Security-Policy"] == "default-src 'none'"
        assert "img-src https:" in headers["Content-Security-Policy-Report-Only"]
        headers, _ = same_as_django_csp(path="/open/page/")
        assert headers["Content-Security-Policy"] is None
    headers, _ = same_as_django_csp()
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["Content-Security-Policy-Report-Only"] is None
