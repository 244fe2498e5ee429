"""The WebSocket Origin rule: trusted origins, or the request's own scheme, host and port."""

from __future__ import annotations

import pytest

from progress.sockets.origins import origin_allowed


@pytest.mark.parametrize(
    ("origin", "host", "secure"),
    [
        ("http://localhost", "localhost", False),
        ("http://localhost:80", "localhost", False),  # the default port, spelled out
        ("http://127.0.0.1:8000", "127.0.0.1:8000", False),
        ("https://localhost", "localhost:443", True),
        ("http://[::1]:8000", "[::1]:8000", False),
        ("HTTP://LOCALHOST:8000", "localhost:8000", False),
    ],
)
def test_the_requests_own_origin_is_allowed(origin, host, secure):
    assert origin_allowed(origin, host=host, secure=secure)


@pytest.mark.parametrize(
    ("origin", "host", "secure"),
    [
        ("http://127.0.0.1:3000", "127.0.0.1:8000", False),  # issue 11: the port was ignored
        ("http://localhost", "localhost", True),  # a plain page on an https server
        ("https://localhost", "localhost", False),
        ("http://evil.example", "evil.example", False),  # not in ALLOWED_HOSTS
        ("http://localhost", None, False),
        (None, "localhost", False),
        ("null", "localhost", False),
        ("http://localhost:99999", "localhost", False),
        ("http://user@localhost", "localhost", False),
        ("ftp://localhost", "localhost", False),
    ],
)
def test_any_other_origin_is_refused(origin, host, secure):
    assert not origin_allowed(origin, host=host, secure=secure)


def test_trusted_origins_match_exactly_or_by_djangos_subdomain_wildcard(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.org", "https://*.example.net"]
    assert origin_allowed("https://app.example.org", host="localhost", secure=False)
    assert origin_allowed("https://a.b.example.net", host="localhost", secure=False)
    assert not origin_allowed("http://app.example.org", host="localhost", secure=False)
    assert not origin_allowed("https://app.example.org:444", host="localhost", secure=False)
    assert not origin_allowed("https://example.org", host="localhost", secure=False)


def test_an_empty_allowed_hosts_means_djangos_debug_defaults(settings):
    settings.ALLOWED_HOSTS = []
    settings.DEBUG = True
    assert origin_allowed("http://localhost:8000", host="localhost:8000", secure=False)
    settings.DEBUG = False
    assert not origin_allowed("http://localhost:8000", host="localhost:8000", secure=False)
