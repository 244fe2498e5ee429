"""Database relay for the in-memory layer: brings other processes' runs to this server.

With channels-redis every process publishes straight to browsers. The in-memory layer
cannot cross processes, so a run started by a management command in a second terminal
would never reach pages served here. While (and only while) that layer is in use, this
server polls the table every DB_POLL_INTERVAL for rows changed since the last poll and
group-sends them like the tracker would. One indexed query per interval per process.

Log lines too: lines other processes stored since the last poll (by primary key, at most
RELAYED_LINES_PER_POLL) go to their run's log group, which only an open run page joins,
so a command's or a worker's lines reach the page within DB_POLL_INTERVAL. Lines of runs
this process tracks were sent live already; pages dedupe lines by number anyway.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer
from django.utils import timezone

from progress import conf, protocol
from progress.models import OperationLogLine, OperationProgress
from progress.publish.broadcast import operation_send
from progress.publish.publisher import get_publisher
from progress.publish.visibility import log_group
from progress.runtime.logcapture import LogLine, log_frame
from progress.runtime.writer import get_writer

logger = logging.getLogger(__name__)

_relay_task: asyncio.Task[None] | None = None
MAX_REMEMBERED = 10_000
# Log lines relayed per poll at most; a burst beyond it is read by pages from the API
# (a frame's gap in line numbers makes the page fetch what it missed).
RELAYED_LINES_PER_POLL = 2_000


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
        self.last_line_pk: int | None = None  # set at the first poll: no history replayed

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
        await self._relay_log_lines(skip=get_writer().tracked_run_ids())
        return count

    async def _relay_log_lines(self, *, skip: frozenset[int]) -> int:
        """Send other processes' new log lines to their runs' log groups; returns frames sent."""
        if self.last_line_pk is None:
            self.last_line_pk = await self._newest_line_pk()
            return 0
        rows = await self._lines_after(self.last_line_pk)
        if not rows:
            return 0
        self.last_line_pk = rows[-1][0]
        frames = 0
        rows.sort(key=lambda row: (row[1], row[2]))
        for run_id, run_rows in groupby(rows, key=lambda row: row[1]):
            if run_id in skip:
                continue
            lines = [
                LogLine(number, time.timestamp(), level, logger_name, message)
                for _pk, _run, number, time, level, logger_name, message in run_rows
            ]
            frame = log_frame(run_id, lines)
            if frame is not None:
                message = {"type": protocol.LAYER_LOG, "id": run_id, "text": frame}
                await self.layer.group_send(log_group(run_id), message)
                frames += 1
        return frames

    @database_sync_to_async
    def _newest_line_pk(self) -> int:
        newest = OperationLogLine.objects.order_by("-pk").values_list("pk", flat=True).first()
        return newest or 0

    @database_sync_to_async
    def _lines_after(self, pk: int) -> list[tuple[Any, ...]]:
        return list(
            OperationLogLine.objects.filter(pk__gt=pk)
            .order_by("pk")
            .values_list("pk", "run_id", "number", "time", "level", "logger", "message")[
                :RELAYED_LINES_PER_POLL
            ]
        )

    @database_sync_to_async
    def _changed_since(self, since: datetime) -> list[OperationProgress]:
        return list(OperationProgress.objects.filter(updated_at__gte=since))
