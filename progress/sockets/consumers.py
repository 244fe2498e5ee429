"""The WebSocket consumer: authenticate, join groups, send a snapshot, relay run states."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from progress import conf, protocol
from progress.publish import visibility
from progress.sockets import shown, snapshots, socketcount
from progress.sockets.authwatch import auth_watch
from progress.sockets.fanout import Subscription, fanout_for
from progress.sockets.inbound import Inbox
from progress.sockets.socketcount import counted_user_key, socket_count
from progress.sockets.throttle import connect_key, connect_throttle
from progress.web.listing import RunFilters

logger = logging.getLogger(__name__)

# Run ids are PostgreSQL bigints; seqs are compared in Python but kept within 64 bits too.
MAX_RUN_ID = 2**63 - 1
MAX_RUN_ID_DIGITS = len(str(MAX_RUN_ID))
SEQ_BOUND = 2**63
# Characters of a client's key echoed back in an error message.
ECHO_CHARS = 40
# The close code for each way the socket count refuses a connect.
COUNT_REFUSALS = {
    socketcount.FULL: protocol.CLOSE_TOO_MANY_SOCKETS,
    socketcount.TOO_FAST: protocol.CLOSE_CONNECTING_TOO_FAST,
}


class ProgressConsumer(AsyncJsonWebsocketConsumer):
    """Pushes run states to one browser: ws/progress/ (every visible run),
    ws/progress/?view=shown (the runs the page shows, progress/sockets/shown.py) or
    ws/progress/<id>/ (one run)."""

    # The proposal's protocol (SeedProgressConsumer): one event frame per state, no batch,
    # snapshot or heartbeat frames.
    seed_protocol = False
    groups: list[str] = []
    _heartbeat: asyncio.Task[None] | None = None
    _subscription: Subscription | None = None
    inbox: Inbox | None = None
    _watched_key: str | None = None
    _last_sent_at = 0.0
    # ?view=shown: the runs the client shows, each a place in its run group's feed.
    view_shown = False
    summary_since = 0
    last_summary: str | None = None

    @property
    def channel_layer_alias(self) -> str:
        """PROGRESS["CHANNEL_LAYER"]: the layer the publisher sends on."""
        return conf.get("CHANNEL_LAYER")

    async def connect(self) -> None:
        """Accept, then close with 4001/4003/4029/4030 if refused, so the browser learns why."""
        self.user = self.scope.get("user")
        self.operation_id: int | None = self.scope["url_route"]["kwargs"].get("operation_id")
        self.sent: dict[int, int] = {}
        self._counted_for: str | None = None
        self._shown: dict[int, Subscription] = {}
        self.view_shown = (
            self.operation_id is None and not self.seed_protocol and _asks_shown(self.scope)
        )
        await self.accept()
        if not connect_throttle.allow(connect_key(self.scope, self.user)):
            await self.close(code=protocol.CLOSE_CONNECTING_TOO_FAST)
            return
        if not getattr(self.user, "is_authenticated", False):
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)
            return
        counted = await self._count_socket()
        if counted != socketcount.TAKEN:
            await self.close(code=COUNT_REFUSALS[counted])
            return
        if self.operation_id is not None and not await self._is_visible(self.operation_id):
            await self.close(code=protocol.CLOSE_FORBIDDEN)
            return
        self._watch_session()
        # Run states come through this process's feed of the socket's group
        # (progress/sockets/fanout.py); a run page's log lines through its own channel.
        # Channels' own attribute self.groups: websocket_disconnect() leaves these groups.
        if self.operation_id is not None:
            self.groups = [visibility.log_group(self.operation_id)]
            await self.channel_layer.group_add(self.groups[0], self.channel_name)
        if self.view_shown:
            # Nothing is shown yet: an empty snapshot (the client knows the server is up),
            # then states of the runs its show messages name.
            await self._send_operations("snapshot", [])
            self._start_heartbeat()
            return
        (group,) = visibility.user_groups(self.user, operation_id=self.operation_id)
        self._subscription = await fanout_for(self.channel_layer).subscribe(group, self)
        # Subscribed first, so nothing that changes after the snapshot's query is missed;
        # the feed holds states for this socket until the snapshot is out.
        snapshot = await self._snapshot(self._subscription)
        for run_id, seq in snapshot.seqs.items():
            self.sent[run_id] = max(seq, self.sent.get(run_id, -1))
        for frame in snapshot.seed_frames if self.seed_protocol else snapshot.frames:
            await self.send(text_data=frame)
        self._subscription.start()
        if not self.seed_protocol:
            self._start_heartbeat()

    def _start_heartbeat(self) -> None:
        interval = conf.get("SOCKET_HEARTBEAT_INTERVAL")
        self._heartbeat = asyncio.create_task(self._beat(interval))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Run the consumer; however it ends (even by an exception), free its socket place.

        Client frames reach the handlers through an Inbox (progress/inbound.py), which
        applies the size and rate limits as frames arrive, not when a handler gets to them.
        """
        self.inbox = Inbox(receive, self._refuse)
        try:
            await super().__call__(scope, self.inbox.get, send)
        finally:
            await self.inbox.aclose()
            self._uncount_socket()
            self._unsubscribe()
            if self._heartbeat is not None:
                self._heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._heartbeat

    async def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
    ) -> None:
        """Send a frame; the heartbeat is skipped while frames flow anyway."""
        self._last_sent_at = time.monotonic()
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    async def _beat(self, interval: float) -> None:
        """A heartbeat frame whenever the socket has been quiet for interval seconds."""
        while True:
            quiet = time.monotonic() - self._last_sent_at
            if quiet >= interval:
                try:
                    await self.send(text_data=protocol.HEARTBEAT_FRAME)
                except Exception:  # the socket is closing; its end cancels this task anyway
                    return
                quiet = 0.0
            await asyncio.sleep(interval - quiet)

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        """Close from the server end; the socket's place is free from now on."""
        self._uncount_socket()
        self._unsubscribe()
        if self._heartbeat is not None and self._heartbeat is not asyncio.current_task():
            self._heartbeat.cancel()
        await super().close(code=code, reason=reason)

    async def disconnect(self, code: int) -> None:
        """Free the socket's place under the cap (Channels leaves self.groups before this)."""
        self._uncount_socket()
        self._unsubscribe()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Decode JSON (the inbox has applied the size and rate limits)."""
        if text_data is None:
            await self._error("Send text frames holding JSON objects, not binary frames.")
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self._error("Frame is not valid JSON.")
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Dispatch a client message by its type."""
        if not isinstance(content, dict):
            await self._error('Send a JSON object such as {"type": "ping"}.')
            return
        kind = content.get("type")
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "resync":
            await self._resync(content.get("since"))
        elif kind == "show" and self.view_shown:
            await self._show(content)
        else:
            allowed = "'ping', 'resync' or 'show'" if self.view_shown else "'ping' or 'resync'"
            await self._error(f"Unknown message type {_echo(kind)}; use {allowed}.")

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Call the handler for the message's type, without a thread hop first.

        Channels' dispatch() runs close_old_connections() in a worker thread before every
        handler. No handler here touches the database outside database_sync_to_async,
        which closes old connections itself, and that hop per message (and per connect)
        was the largest cost in the fan-out and storm benchmarks (bench/, W4 and S).
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- helpers ---------------------------------------------------------------------

    async def _resync(self, since: Any) -> None:
        parsed = self._parse_since(since)
        if isinstance(parsed, str):
            await self._error(parsed)
            return
        if self.view_shown:
            parsed = {pk: seq for pk, seq in parsed.items() if pk in self._shown}
            operations = await self._among(list(self._shown), parsed)
        else:
            operations = await self._newer_than(parsed)
        if self.inbox is not None:
            if not self.inbox.open:
                return  # the client left or was refused while the query ran
            self.inbox.bucket.charge(len(operations) / conf.get("RESYNC_RUNS_PER_TOKEN"))
        await self._send_operations("resync", operations)

    async def _show(self, content: dict[str, Any]) -> None:
        """The page shows these runs (and wants a summary for these filters): follow them,
        and send the ones newly shown (a snapshot) before their states."""
        parsed = shown.parse_show(content)
        if isinstance(parsed, str):
            await self._error(parsed)
            return
        runs, filters, since = parsed
        wanted = set(await self._visible_among(runs)) if runs else set()
        for gone in [pk for pk in self._shown if pk not in wanted]:
            self._shown.pop(gone).close()
            self.sent.pop(gone, None)
        added = [pk for pk in runs if pk in wanted and pk not in self._shown]
        fanout = fanout_for(self.channel_layer)
        results = await asyncio.gather(
            *(fanout.subscribe(visibility.operation_group(pk), self) for pk in added),
            return_exceptions=True,
        )
        joined = [r for r in results if isinstance(r, Subscription)]
        failed = next((r for r in results if isinstance(r, BaseException)), None)
        if failed is not None or (self.inbox is not None and not self.inbox.open):
            # Every place taken is given back, or the feeds would keep a dead socket.
            for subscription in joined:
                subscription.close()
            if failed is not None:
                logger.warning("Could not show runs on %s: %r", self.channel_name, failed)
                await self._error("The runs could not be followed just now; send show again.")
            return
        self._shown.update(zip(added, joined, strict=True))
        # Subscribed first, so nothing that changes after the query is missed.
        operations = await self._among(added, {}) if added else []
        await self._send_operations("snapshot", operations)
        for subscription in joined:
            subscription.start()
        if self.inbox is not None:
            self.inbox.bucket.charge(len(runs) / conf.get("RESYNC_RUNS_PER_TOKEN"))
        self._follow_summary(filters, since)

    def _follow_summary(self, filters: RunFilters | None, since: int) -> None:
        board = shown.summary_board()
        if filters is None:
            board.leave(self)
            return
        self.summary_since = since
        key = shown.SummaryKey(visibility.visibility_key(self.user), filters)
        board.join(key, self)

    @staticmethod
    def _parse_since(since: Any) -> dict[int, int] | str:
        """The resync map as {id: seq}, or an error message saying what to fix."""
        if since is None:
            return {}
        if not isinstance(since, dict):
            return 'resync needs "since": an object of {"<run id>": <seq>}.'
        limit = conf.get("MAX_RESYNC_IDS")
        if len(since) > limit:
            return f"resync names {len(since)} runs; at most {limit} are allowed."
        parsed: dict[int, int] = {}
        for key, value in since.items():
            if not (_is_run_id(key) and _is_seq(value)):
                return (
                    f"resync entry {_echo(key)}: {_echo(value)} must be a run id and an integer "
                    f"seq (ids are ASCII digits up to {MAX_RUN_ID}, seqs within ±2**63)."
                )
            parsed[int(key)] = value
        return parsed

    async def _send_operations(self, kind: str, operations: list[dict[str, Any]]) -> None:
        """Send a snapshot or resync, split into frames of at most MAX_FRAME_BYTES."""
        for op in operations:
            self.sent[op["id"]] = max(op["seq"], self.sent.get(op["id"], -1))
        if self.seed_protocol:
            frames = [protocol.seed_frame(protocol.encode_event(op)) for op in operations]
        else:
            frames = protocol.list_frames(kind, operations)
        for frame in frames:
            await self.send(text_data=frame)

    async def _error(self, message: str) -> None:
        await self.send_json({"type": "error", "message": message})

    def _unsubscribe(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.close()
        shown_runs, self._shown = getattr(self, "_shown", {}), {}
        for subscription in shown_runs.values():
            subscription.close()
        if self.view_shown:
            shown.summary_board().leave(self)
        key, self._watched_key = self._watched_key, None
        if key is not None:
            auth_watch().remove(key, self)

    def _watch_session(self) -> None:
        """Follow the session: a logout, deactivation or demotion closes the socket."""
        key = self.scope.get("cookies", {}).get(settings.SESSION_COOKIE_NAME)
        if key:
            self._watched_key = key
            auth_watch().add(key, self)

    async def _count_socket(self) -> str:
        """Take a place under MAX_SOCKETS_PER_USER (and, across processes, a connect under
        CONNECT_RATE) when the layer is Redis (progress/sockets/socketcount.py): TAKEN, FULL
        or TOO_FAST."""
        user_key = counted_user_key(self.user)
        counted = await socket_count().take(user_key, self.channel_name)
        if counted == socketcount.TAKEN:
            self._counted_for = user_key
        return counted

    def _uncount_socket(self) -> None:
        user_id, self._counted_for = getattr(self, "_counted_for", None), None
        if user_id is not None:
            socket_count().give_back(user_id, self.channel_name)

    async def _refuse(self, code: int) -> None:
        """The client broke a limit (the inbox says which): close at once."""
        with contextlib.suppress(Exception):  # the socket is already gone
            await self.close(code=code)

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return json.dumps(content, separators=(",", ":"), default=str)

    @database_sync_to_async
    def _is_visible(self, operation_id: int) -> bool:
        return snapshots.is_visible(self.user, operation_id)

    async def _snapshot(self, subscription: Subscription) -> snapshots.EncodedSnapshot:
        """The socket's snapshot, shared with connects of the same visibility; the states
        its feed took in since that snapshot's load are held for the socket (catch_up)."""
        key = visibility.visibility_key(self.user, operation_id=self.operation_id)
        for _ in range(2):
            snapshot, started = await snapshots.shared_snapshots.get(
                key, self._load_snapshot, not_before=subscription.feed.covered_from
            )
            if subscription.catch_up(started):
                return snapshot
            # The load took longer than the feed remembers: share a newer one (the feed's
            # memory now starts after that load, so the next get() starts another).
        # Twice too slow (the database is struggling): this socket's own load, after it
        # subscribed, which the states held for it since complete.
        return await self._load_snapshot()

    @database_sync_to_async
    def _load_snapshot(self) -> snapshots.EncodedSnapshot:
        return snapshots.encoded_snapshot(self.user, operation_id=self.operation_id)

    @database_sync_to_async
    def _newer_than(self, since: dict[int, int]) -> list[dict[str, Any]]:
        return snapshots.newer_than(self.user, since, operation_id=self.operation_id)

    @database_sync_to_async
    def _among(self, run_ids: list[int], since: dict[int, int]) -> list[dict[str, Any]]:
        return snapshots.among(self.user, run_ids, since)

    @database_sync_to_async
    def _visible_among(self, run_ids: list[int]) -> list[int]:
        return snapshots.visible_among(self.user, run_ids)

    async def progress_log(self, event: dict[str, Any]) -> None:
        """New log lines of this page's run (sent to its log group only): forward the frame."""
        try:
            if self.operation_id is not None and protocol.fits_in_frame(event["text"]):
                await self.send(text_data=event["text"])
        except Exception:
            logger.exception("Could not forward log lines to %s", self.channel_name)


class SeedProgressConsumer(ProgressConsumer):
    """ws/progress (no slash): the proposal's protocol, for clients written to it.

    The same authentication, visibility and limits as ProgressConsumer; every frame is one
    run's newest state as {"type": "progress_update" | "task_completed" | "task_failed",
    "data": <the run>}, never a batch, snapshot part or heartbeat.
    """

    seed_protocol = True


def _asks_shown(scope: dict[str, Any]) -> bool:
    """True for ws/progress/?view=shown: the page says which runs it shows."""
    query = scope.get("query_string", b"")
    return b"view=shown" in query.split(b"&")


def _is_run_id(key: Any) -> bool:
    # isdecimal() alone accepts "٣" and other non-ASCII digits; int() of 5,000 digits
    # raises and 20 digits overflow PostgreSQL's bigint, so length is checked first.
    return (
        isinstance(key, str)
        and key.isascii()
        and key.isdecimal()
        and len(key) <= MAX_RUN_ID_DIGITS
        and int(key) <= MAX_RUN_ID
    )


def _is_seq(value: Any) -> bool:
    return (
        isinstance(value, int) and not isinstance(value, bool) and -SEQ_BOUND <= value < SEQ_BOUND
    )


def _echo(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= ECHO_CHARS else text[: ECHO_CHARS - 1] + "…"
