"""The stall sweep: runs whose heartbeat stopped are marked stalled, and browsers are told.

A run's process beats its heartbeat every HEARTBEAT_INTERVAL while it lives (the writer
thread does it, even while the pipeline is stuck in one long item). When a process dies
(SIGKILL, OOM, power), its runs stop beating; the first sweep after STALL_TIMEOUT marks
them stalled. Sweeps run in every serving process (started with the first WebSocket), in
every process that tracks runs (the writer thread), and from cron (`mark_stalled`).
Marking is a guarded UPDATE, so concurrent sweepers mark each run once.
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async

from progress.policy import sweep_interval
from progress.services import dead_runs_sweep

logger = logging.getLogger(__name__)

_sweep_task: asyncio.Task[None] | None = None


def ensure_sweeper() -> None:
    """Start the periodic sweep in the running loop, once per process (per loop)."""
    global _sweep_task
    loop = asyncio.get_running_loop()
    if _sweep_task is not None and not _sweep_task.done() and _sweep_task.get_loop() is loop:
        return
    _sweep_task = loop.create_task(_sweep_forever())


async def _sweep_forever() -> None:
    sweep = database_sync_to_async(dead_runs_sweep)
    while True:
        await asyncio.sleep(sweep_interval())
        try:
            await sweep()
        except Exception:
            logger.exception("Stall sweep failed; retrying")
