"""Which pages may open a WebSocket: the Origin check, comparing scheme, host and port.

An Origin is accepted when it exactly matches an entry of CSRF_TRUSTED_ORIGINS (with
Django's "https://*.example.com" subdomain wildcards), or when it is the request's own
origin: the same scheme, host and port as the Host header the socket was opened on, with
that host in ALLOWED_HOSTS. Channels' AllowedHostsOriginValidator checks only the host,
so a page on http://127.0.0.1:3000 could open the server's socket on port 8000.
A socket without an Origin header is refused, as browsers always send one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import SplitResult, urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

DEFAULT_PORTS = {"http": 80, "https": 443}
# Django's own fallback when DEBUG is on and ALLOWED_HOSTS is empty (HttpRequest.get_host).
DEBUG_ALLOWED_HOSTS = [".localhost", "127.0.0.1", "[::1]"]


def origin_allowed(origin: str | None, *, host: str | None, secure: bool) -> bool:
    """True if a socket from origin may be opened on host (the request's Host header)."""
    parsed = _parse(origin)
    if parsed is None:
        return False
    if _trusted(origin or "", parsed):
        return True
    return host is not None and _same_origin(parsed, host, secure=secure)


class OriginValidator:
    """ASGI middleware: refuses WebSockets whose Origin origin_allowed() rejects (403)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        """Pass an allowed socket on; deny the rest before the application sees them."""
        if scope["type"] == "websocket" and not _scope_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


def _scope_allowed(scope: dict[str, Any]) -> bool:
    headers = _headers(scope)
    secure = _is_secure(scope, headers)
    return origin_allowed(headers.get("origin"), host=headers.get("host"), secure=secure)


def _parse(origin: str | None) -> SplitResult | None:
    """The origin as scheme, host and port, or None when it is not an http(s) origin."""
    if not origin:
        return None
    try:
        parsed = urlsplit(origin)
        parsed.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return None
    ok = parsed.scheme in DEFAULT_PORTS and parsed.hostname and "@" not in parsed.netloc
    return parsed if ok and not parsed.path.strip("/") else None


def _trusted(origin: str, parsed: SplitResult) -> bool:
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        if "*" not in entry:
            if entry.lower().rstrip("/") == origin.lower().rstrip("/"):
                return True
            continue
        trusted = urlsplit(entry)
        # Django's rule: "https://*.example.com" is the domain and its subdomains, same scheme.
        if trusted.scheme == parsed.scheme and is_same_domain(
            parsed.netloc.lower(), trusted.netloc.lstrip("*")
        ):
            return True
    return False


def _same_origin(parsed: SplitResult, host: str, *, secure: bool) -> bool:
    domain, port = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS or (DEBUG_ALLOWED_HOSTS if settings.DEBUG else [])
    if not domain or not validate_host(domain, allowed):
        return False
    scheme = "https" if secure else "http"
    origin_domain, origin_port = split_domain_port(parsed.netloc)
    return (parsed.scheme, origin_domain, _port(origin_port, parsed.scheme)) == (
        scheme,
        domain,
        _port(port, scheme),
    )


def _port(port: str, scheme: str) -> int:
    return int(port) if port else DEFAULT_PORTS[scheme]


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    """The first value of each header, decoded as latin-1 (HTTP's header charset)."""
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return headers


def _is_secure(scope: dict[str, Any], headers: dict[str, str]) -> bool:
    """wss, or https as told by the proxy header Django trusts (SECURE_PROXY_SSL_HEADER)."""
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not proxy_header:
        return False
    meta_name, expected = proxy_header
    name = meta_name.removeprefix("HTTP_").replace("_", "-").lower()
    return headers.get(name, "").split(",")[0].strip() == expected
