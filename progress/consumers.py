"""The WebSocket consumer: authenticate, join groups, send a snapshot, relay run states."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from progress import conf, protocol, snapshots
from progress.publisher import get_publisher
from progress.relay import ensure_relay
from progress.sweeper import ensure_sweeper


class ProgressConsumer(AsyncJsonWebsocketConsumer):
    """Pushes run states to one browser; ws/progress/ (all visible) or ws/progress/<id>/."""

    groups: list[str] = []

    async def connect(self) -> None:
        """Accept, then close with 4001/4003 if refused, so the browser learns why."""
        self.user = self.scope.get("user")
        self.operation_id: int | None = self.scope["url_route"]["kwargs"].get("operation_id")
        self.sent: dict[int, int] = {}
        self._tokens = float(conf.get("CLIENT_BURST"))
        self._tokens_at = time.monotonic()
        await self.accept()
        if not getattr(self.user, "is_authenticated", False):
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)
            return
        if self.operation_id is not None and not await self._is_visible(self.operation_id):
            await self.close(code=protocol.CLOSE_FORBIDDEN)
            return
        get_publisher().attach_server_loop(asyncio.get_running_loop())
        ensure_relay(self.channel_layer)
        ensure_sweeper()
        self.joined = self._groups_to_join()
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        operations = await self._snapshot()
        await self._send_operations("snapshot", operations)

    async def disconnect(self, code: int) -> None:
        """Leave every group this connection joined."""
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Enforce size and rate limits, then decode JSON."""
        size = len(text_data or "") if bytes_data is None else len(bytes_data)
        if size > conf.get("MAX_MESSAGE_BYTES"):
            await self.close(code=protocol.CLOSE_MESSAGE_TOO_BIG)
            return
        if not self._take_token():
            await self.close(code=protocol.CLOSE_RATE_LIMITED)
            return
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
        else:
            await self._error(f"Unknown message type {kind!r}; use 'ping' or 'resync'.")

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Relay run states straight to the handler.

        Channels' dispatch() runs close_old_connections() in a worker thread before every
        handler. progress_event touches no database, and that thread hop per message per
        client was the largest cost in the fan-out benchmark (bench/, figure W4).
        """
        if message["type"] == protocol.LAYER_EVENT:
            await self.progress_event(message)
        else:
            await super().dispatch(message)

    async def progress_event(self, event: dict[str, Any]) -> None:
        """A run's new state from the channel layer: forward it unless the client has newer."""
        if event["seq"] <= self.sent.get(event["id"], -1):
            return
        self.sent[event["id"]] = event["seq"]
        await self.send(text_data=event["text"])

    # --- helpers ---------------------------------------------------------------------

    def _groups_to_join(self) -> list[str]:
        if self.operation_id is not None:
            return [protocol.operation_group(self.operation_id)]
        if self.user.is_staff or conf.get("DASHBOARD_VISIBILITY") == "all":
            return [protocol.ALL_GROUP]
        return [protocol.user_group(self.user.pk)]

    async def _resync(self, since: Any) -> None:
        parsed = self._parse_since(since)
        if isinstance(parsed, str):
            await self._error(parsed)
            return
        operations = await self._newer_than(parsed)
        await self._send_operations("resync", operations)

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
            if not str(key).isdigit() or isinstance(value, bool) or not isinstance(value, int):
                return f"resync entry {key!r}: {value!r} must be a run id and an integer seq."
            parsed[int(key)] = value
        return parsed

    async def _send_operations(self, kind: str, operations: list[dict[str, Any]]) -> None:
        for op in operations:
            self.sent[op["id"]] = max(op["seq"], self.sent.get(op["id"], -1))
        await self.send_json({"type": kind, "operations": operations})

    async def _error(self, message: str) -> None:
        await self.send_json({"type": "error", "message": message})

    def _take_token(self) -> bool:
        now = time.monotonic()
        rate, burst = conf.get("CLIENT_RATE"), conf.get("CLIENT_BURST")
        self._tokens = min(burst, self._tokens + (now - self._tokens_at) * rate)
        self._tokens_at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return json.dumps(content, separators=(",", ":"), default=str)

    @database_sync_to_async
    def _is_visible(self, operation_id: int) -> bool:
        return snapshots.is_visible(self.user, operation_id)

    @database_sync_to_async
    def _snapshot(self) -> list[dict[str, Any]]:
        return snapshots.snapshot_for(self.user, operation_id=self.operation_id)

    @database_sync_to_async
    def _newer_than(self, since: dict[int, int]) -> list[dict[str, Any]]:
        return snapshots.newer_than(self.user, since, operation_id=self.operation_id)
