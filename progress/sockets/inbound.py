"""A socket's client frames as they arrive: charged, bounded, resyncs coalesced.

Channels hands a consumer its next message only after the previous handler returned, and
the server (daphne, or a test's communicator) queues what arrives meanwhile without a
bound. Charging the rate limit when a handler reached a frame let a client queue hundreds
of resyncs behind a slow one (issue 25, finding 1): each was charged only after the one
before it had been answered, by which time its token had grown back. Here one task per
socket takes every frame from the server as it arrives: the size and rate limits apply
then, a frame waits in a bounded queue, a resync (or show) waiting behind another of its
type replaces it (the client gets the answer to the newest), and a disconnect drops
whatever still waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from progress import conf, protocol

Receive = Callable[[], Awaitable[dict[str, Any]]]


class TokenBucket:
    """CLIENT_RATE tokens a second, at most CLIENT_BURST held; a debt may go below zero."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self._at = time.monotonic()

    def take(self, cost: float = 1.0) -> bool:
        """Take cost tokens if at least one is held (the rest is a debt); False if none is."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self._at) * self.rate)
        self._at = now
        if self.tokens < 1:
            return False
        self.tokens -= cost
        return True

    def refilled(self) -> bool:
        """True if the bucket would be full now (an idle client's bucket can be dropped)."""
        return self.tokens + (time.monotonic() - self._at) * self.rate >= self.burst

    def charge(self, cost: float) -> None:
        """Take cost tokens after the fact (what a resync returned); may leave a debt."""
        self.tokens -= cost


class Inbox:
    """The frames one socket's client sent, as the consumer's receive()."""

    def __init__(self, receive: Receive, refuse: Callable[[int], Awaitable[None]]) -> None:
        self._receive = receive
        self._refuse = refuse
        self._queue: deque[dict[str, Any]] = deque()
        self._waiting = asyncio.Event()
        # The resync or show waiting for the consumer, by type: a newer one replaces it.
        self._pending: dict[str, dict[str, Any]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.bucket = TokenBucket(conf.get("CLIENT_RATE"), conf.get("CLIENT_BURST"))
        self.refused: int | None = None  # the close code, once the client broke a limit
        self.gone = False  # the client disconnected
        self._failed: BaseException | None = None  # the server's receive raised this

    @property
    def open(self) -> bool:
        """True while the client's work is still wanted (not refused, not disconnected)."""
        return self.refused is None and not self.gone

    async def get(self) -> dict[str, Any]:
        """The next message to handle; starts reading the server's messages on first use."""
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read())
        while not self._queue:
            if self._failed is not None:
                raise self._failed
            self._waiting.clear()
            await self._waiting.wait()
        message = self._queue.popleft()
        for kind, pending in list(self._pending.items()):
            if message is pending:
                del self._pending[kind]
        return message

    async def aclose(self) -> None:
        """Stop reading (the consumer ended)."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read(self) -> None:
        try:
            await self._read_until_disconnect()
        except Exception as exc:  # the consumer's receive() raises it, as Channels' would
            self._failed = exc
            self._waiting.set()

    async def _read_until_disconnect(self) -> None:
        while True:
            message = await self._receive()
            if message.get("type") == "websocket.disconnect":
                self.gone = True
                self._queue.clear()
                self._put(message)
                return
            if message.get("type") != "websocket.receive":
                self._put(message)
            elif self.refused is None:
                code = self._limit_broken(message)
                if code is None:
                    self._admit(message)
                else:
                    self.refused = code
                    self._queue.clear()
                    self._pending.clear()
                    await self._refuse(code)
            # Frames after a refusal are dropped unread: the socket is closing.

    def _limit_broken(self, message: dict[str, Any]) -> int | None:
        """The close code for a frame over a limit, or None."""
        data = message.get("bytes")
        limit = conf.get("MAX_MESSAGE_BYTES")
        size = utf8_size(message.get("text") or "", limit) if data is None else len(data)
        if size > limit:
            return protocol.CLOSE_MESSAGE_TOO_BIG
        if not self.bucket.take():
            return protocol.CLOSE_RATE_LIMITED
        if len(self._queue) >= conf.get("CLIENT_BURST"):
            return protocol.CLOSE_RATE_LIMITED
        return None

    def _admit(self, message: dict[str, Any]) -> None:
        kind = _replaceable_type(message.get("text"))
        if kind is None:
            self._put(message)
        elif kind in self._pending:
            self._pending[kind]["text"] = message["text"]  # the newest answer is enough
        else:
            self._pending[kind] = dict(message)
            self._put(self._pending[kind])

    def _put(self, message: dict[str, Any]) -> None:
        self._queue.append(message)
        self._waiting.set()


# Client messages of which only the newest waiting one matters: each asks for a whole state.
REPLACEABLE_TYPES = (protocol.FRAME_TYPES["resync"], protocol.FRAME_TYPES["show"])


def _replaceable_type(text: str | None) -> str | None:
    """The message's type if a newer message of that type replaces it while it waits."""
    if not text or not any(f'"{kind}"' in text for kind in REPLACEABLE_TYPES):
        return None
    try:
        content = json.loads(text)
    except ValueError:
        return None
    kind = content.get("type") if isinstance(content, dict) else None
    return kind if kind in REPLACEABLE_TYPES else None


def utf8_size(text: str, limit: int) -> int:
    """The text's size in UTF-8 bytes, encoded only when its length cannot settle it."""
    # A character is 1 to 4 bytes: len() is a lower bound, 4 * len() an upper one.
    if len(text) > limit or 4 * len(text) <= limit:
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))
