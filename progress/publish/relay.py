"""Database relay for the in-memory layer: brings other processes' runs to this server.

With channels-redis every process publishes straight to browsers. The in-memory layer
cannot cross processes, so a run started by a management command in a second terminal
would never reach pages served here. While (and only while) that layer is in use, this
server polls the table every DB_POLL_INTERVAL for rows changed since the last poll and
group-sends them like the tracker would. One indexed query per interval per process.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer
from django.utils import timezone

from progress import conf
from progress.models import OperationProgress
from progress.publish.broadcast import operation_send
from progress.publish.publisher import get_publisher

logger = logging.getLogger(__name__)

_relay_task: asyncio.Task[None] | None = None
MAX_REMEMBERED = 10_000


def ensure_relay(layer: Any) -> None:
    """Start the relay in the running loop if the layer is in-memory and it is not running."""
    global _relay_task
    if not isinstance(layer, InMemoryChannelLayer):
        return
    if _relay_task is not None and not _relay_task.done():
        if _relay_task.get_loop() is asyncio.get_running_loop():
            return
        _relay_task.cancel()
    _relay_task = asyncio.get_running_loop().create_task(DatabaseRelay(layer).run())


class DatabaseRelay:
    """Polls for changed runs and group-sends the ones this process has not sent."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.relayed: dict[int, int] = {}
        self.since = timezone.now()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(conf.get("DB_POLL_INTERVAL"))
            try:
                await self.poll_once()
            except Exception:
                logger.exception("Progress database relay poll failed; retrying")

    async def poll_once(self) -> int:
        """Relay rows changed since the previous poll; returns how many were sent."""
        polled_at = timezone.now()
        # Look back a little: another process stamps updated_at before it commits.
        rows = await self._changed_since(self.since - timedelta(seconds=2))
        self.since = polled_at
        sent_by_us = get_publisher().last_sent
        count = 0
        for operation in rows:
            run_id, seq = operation.pk, operation.seq
            if seq <= max(self.relayed.get(run_id, -1), sent_by_us.get(run_id, -1)):
                continue
            if len(self.relayed) > MAX_REMEMBERED:
                self.relayed.clear()  # an optimisation only: consumers and clients dedupe by seq
            self.relayed[run_id] = seq
            await operation_send(self.layer, operation)
            count += 1
        return count

    @database_sync_to_async
    def _changed_since(self, since: datetime) -> list[OperationProgress]:
        return list(OperationProgress.objects.filter(updated_at__gte=since))
