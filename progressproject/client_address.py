"""The client's address behind trusted proxies: what login throttling (django-axes) locks by.

daphne's --proxy-headers takes the leftmost X-Forwarded-For hop, which the client writes
itself; a forged address per attempt then dodged every lockout. Here the header is read only
from a trusted proxy (TRUSTED_PROXIES), and from its right end: each trusted proxy appends
the address it saw, so the rightmost hop that is not a trusted proxy is the client.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def client_address(request: Any) -> str:
    """The peer's address, or, from a trusted proxy, the rightmost untrusted forwarded hop."""
    peer = request.META.get("REMOTE_ADDR", "")
    networks = trusted_networks()
    if not _trusted(_address(peer), networks):
        return peer  # X-Forwarded-For from an untrusted peer is the client's own writing
    found = peer
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _address(hop)
        if address is None:
            break  # not an address: no proxy of ours wrote it; keep the last one that did
        found = str(address)
        if not _trusted(address, networks):
            break
    return found


def trusted_networks() -> list[Network]:
    """settings.TRUSTED_PROXIES (addresses or networks) as networks."""
    entries = getattr(settings, "TRUSTED_PROXIES", [])
    return [ipaddress.ip_network(entry, strict=False) for entry in entries]


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
