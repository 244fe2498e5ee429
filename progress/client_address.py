"""The client's address behind trusted proxies: the one rule for every limit keyed by address.

Socket connect throttling (progress.sockets.throttle) keys anonymous sockets by it, and a
host's login throttling can too (the demo's django-axes: AXES_CLIENT_IP_CALLABLE =
"progress.client_address.client_address"). daphne's --proxy-headers takes the leftmost
X-Forwarded-For hop, which the client writes itself; a forged address per attempt then
dodged every lockout. Here the header is read only from a trusted proxy
(PROGRESS["TRUSTED_PROXIES"]), and from its right end: each trusted proxy appends the address
it saw, so the rightmost hop that is not a trusted proxy is the client.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from progress import conf

__all__ = ["client_address", "scope_client_address"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def client_address(request: Any) -> str:
    """The peer's address, or, from a trusted proxy, the rightmost untrusted forwarded hop."""
    return forwarded_client(
        request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", "")
    )


def scope_client_address(scope: Any) -> str | None:
    """client_address() for an ASGI scope (a socket's); None if the server gave no peer."""
    client = scope.get("client")
    if not client:
        return None
    forwarded = b",".join(
        value for name, value in scope.get("headers", ()) if name.lower() == b"x-forwarded-for"
    )
    return forwarded_client(str(client[0]), forwarded.decode("latin-1"))


def forwarded_client(peer: str, forwarded: str) -> str:
    """The client, from the peer's address and the X-Forwarded-For it sent (see above)."""
    networks = trusted_networks()
    if not _trusted(_address(peer), networks):
        return peer  # X-Forwarded-For from an untrusted peer is the client's own writing
    found = peer
    for hop in reversed(forwarded.split(",")):
        address = _address(hop)
        if address is None:
            break  # not an address: no proxy of ours wrote it; keep the last one that did
        found = str(address)
        if not _trusted(address, networks):
            break
    return found


def trusted_networks() -> list[Network]:
    """PROGRESS["TRUSTED_PROXIES"] (addresses or networks) as networks."""
    entries = conf.get("TRUSTED_PROXIES")
    try:
        return [ipaddress.ip_network(entry, strict=False) for entry in entries]
    except ValueError as exc:
        raise ImproperlyConfigured(
            f'PROGRESS["TRUSTED_PROXIES"]: {exc}; list addresses or networks, '
            'e.g. ["10.0.0.5", "10.1.0.0/16"]'
        ) from None


def _trusted(address: Address | None, networks: list[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


def _address(text: str) -> Address | None:
    """An address from a hop: "1.2.3.4", "1.2.3.4:80", "[::1]:80" or "::1"; None if not one."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
