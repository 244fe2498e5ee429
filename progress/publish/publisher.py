"""Per-process publisher: group-sends run states through the channel layer off the caller's thread.

Callers (any thread, with or without an event loop) hand over the latest state of a
run and return at once. One event loop sends them; when several states of one run are
waiting, only the newest is sent (progress is state, not a log). A failed send is kept
and retried, so a final state still reaches browsers once the layer is back; the
database remains the truth either way and clients catch up by snapshot and resync.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer

from progress import conf, protocol
from progress.publish.outage import Outage

logger = logging.getLogger(__name__)

RETRY_DELAY = 1.0
# A layer that is down for long must not grow memory without bound.
MAX_PENDING = 10_000


class Publisher:
    """Coalesces the latest message per run and group-sends it from one event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[tuple[str, ...], dict[str, Any]]] = {}
        self._wakeup_scheduled = False
        self._own_loop: asyncio.AbstractEventLoop | None = None
        self._server_loop: asyncio.AbstractEventLoop | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._in_flight = 0
        self._layer = Outage(
            logger,
            down="Broadcasting progress is down (%s: %s). Runs continue and the database stays "
            "the truth; browsers catch up when the channel layer is back.",
            recovered="Broadcasting progress recovered; pending states were sent.",
        )
        # Highest seq sent per run, so the database relay does not send it twice.
        self.last_sent: dict[int, int] = {}

    def publish(self, groups: tuple[str, ...], message: dict[str, Any]) -> None:
        """Queue message for groups; replaces an unsent older message of the same run."""
        if not protocol.fits_in_frame(message.get("text", "")):
            # Every consumer would drop it; the table stays the truth for snapshot and resync.
            logger.error(
                "Run %s: not broadcasting a %s-byte frame, over MAX_FRAME_BYTES; build it "
                "with progress.protocol.layer_message, which bounds it.",
                message["id"],
                len(message["text"]),
            )
            return
        with self._lock:
            current = self._pending.get(message["id"])
            if current is not None and not protocol.is_newer(message, current[1]):
                return
            if len(self._pending) >= MAX_PENDING and current is None:
                logger.warning("Progress publisher backlog full; dropping run %s", message["id"])
                return
            self._pending[message["id"]] = (groups, message)
            self._idle.clear()
            if self._wakeup_scheduled:
                return
            self._wakeup_scheduled = True
        self._schedule_drain()

    def publish_log(self, group: str, message: dict[str, Any]) -> None:
        """Send a run's new log lines to one group, never coalesced (a log, not a state)."""
        layer = get_channel_layer(conf.get("CHANNEL_LAYER"))
        if layer is not None and protocol.fits_in_frame(message["text"]):
            # Best effort, like every broadcast: the stored lines are the truth (API).
            asyncio.run_coroutine_threadsafe(layer.group_send(group, message), self._loop())

    def attach_server_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Send from the ASGI server's loop: the in-memory layer only works within one loop."""
        if isinstance(get_channel_layer(conf.get("CHANNEL_LAYER")), InMemoryChannelLayer):
            self._server_loop = loop

    @property
    def down(self) -> bool:
        """True while the channel layer refuses sends."""
        return self._layer.down

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until everything queued has been sent (or given up on); True if idle."""
        return self._idle.wait(timeout)

    def _loop(self) -> asyncio.AbstractEventLoop:
        server = self._server_loop
        if server is not None and server.is_running() and not server.is_closed():
            return server
        if self._own_loop is None:
            self._own_loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=self._own_loop.run_forever, name="progress-publisher", daemon=True
            )
            thread.start()
        return self._own_loop

    def _schedule_drain(self) -> None:
        loop = self._loop()
        loop.call_soon_threadsafe(self._start_drain, loop)

    def _start_drain(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.create_task(self._drain())

    async def _drain(self) -> None:
        with self._lock:
            batch = self._pending
            self._pending = {}
            self._wakeup_scheduled = False
            self._in_flight += 1
        failed = await self._send_all(batch)
        retry = False
        with self._lock:
            self._in_flight -= 1
            for run_id, item in failed.items():
                newer = self._pending.get(run_id)
                if newer is None or protocol.is_newer(item[1], newer[1]):
                    self._pending[run_id] = item
            if failed and not self._wakeup_scheduled:
                self._wakeup_scheduled = retry = True
            if not self._pending and not self._in_flight:
                self._idle.set()
        if retry:
            loop = asyncio.get_running_loop()
            loop.call_later(RETRY_DELAY, self._start_drain, loop)

    async def _send_all(self, batch: dict[int, tuple[tuple[str, ...], dict[str, Any]]]) -> dict:
        layer = get_channel_layer(conf.get("CHANNEL_LAYER"))
        failed = {}
        for run_id, (groups, message) in batch.items():
            try:
                # The run's groups in parallel: latency is one round trip, not three.
                await asyncio.gather(*(layer.group_send(group, message) for group in groups))
            except Exception as exc:  # any layer failure must stay out of the pipeline
                failed[run_id] = (groups, message)
                self._layer.failed(exc)
                if len(failed) == 1 and len(batch) > 1:
                    # The layer is down: keep the rest for the retry instead of timing out on each.
                    failed.update({k: v for k, v in batch.items() if k not in failed})
                    break
            else:
                if len(self.last_sent) > MAX_PENDING:
                    self.last_sent.clear()  # only an optimisation for the relay; clients dedupe
                self.last_sent[run_id] = message["seq"]
                self._layer.succeeded()
        return failed


_publisher: Publisher | None = None
_publisher_lock = threading.Lock()


def get_publisher() -> Publisher:
    """The process-wide publisher, created on first use."""
    global _publisher
    if _publisher is None:
        with _publisher_lock:
            if _publisher is None:
                _publisher = Publisher()
                atexit.register(_publisher.flush, 2.0)
    return _publisher
