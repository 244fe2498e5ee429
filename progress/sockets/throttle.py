"""How fast one user, or one address without a login, may open sockets.

Each connect costs the server a handshake and, for a run's page, a query; one client
reconnected a run socket 125 times a second, and anonymous connects ran at 515 a second
(issue 25, finding 15). A token bucket per user id (or, for anonymous sockets, per client
address, by progress.client_address's trusted-proxy rule) in this process allows
CONNECT_RATE connects a second with bursts of CONNECT_BURST; past it the socket is closed
with 4030 before any query, and the client backs off as after any close that is not a
refusal. A signed-in user's connects are also counted across processes, in Redis, by the
socket count's script (progress.sockets.socketcount): this bucket is the first check, and
the only one for anonymous clients and with other layers.
"""

from __future__ import annotations

from typing import Any

from progress import conf
from progress.client_address import scope_client_address
from progress.sockets.inbound import TokenBucket

# Buckets kept per process before the full (idle) ones are dropped.
MAX_BUCKETS = 10_000


def connect_key(scope: Any, user: Any) -> str | None:
    """Whose connects these are: the user's id, else the client's address."""
    if getattr(user, "is_authenticated", False):
        return f"user:{user.pk}"
    address = scope_client_address(scope)
    return None if address is None else f"address:{address}"


class ConnectThrottle:
    """Token buckets of connects, one per user or anonymous address, in this process."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}

    def allow(self, key: str | None) -> bool:
        """Take a connect for key; False if it has none left (None: never throttled)."""
        if key is None:
            return True
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._prune()
            rate, burst = conf.get("CONNECT_RATE"), conf.get("CONNECT_BURST")
            bucket = self._buckets[key] = TokenBucket(rate, burst)
        return bucket.take()

    def _prune(self) -> None:
        for key in [key for key, bucket in self._buckets.items() if bucket.refilled()]:
            del self._buckets[key]
        if len(self._buckets) >= MAX_BUCKETS:
            self._buckets.clear()


connect_throttle = ConnectThrottle()
