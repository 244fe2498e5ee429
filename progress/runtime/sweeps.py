"""Sweeps: runs that nothing will ever move again are finished, and browsers are told.

Stalled runs. A run's process beats its heartbeat every HEARTBEAT_INTERVAL while it lives
(the writer thread does it, even while the pipeline is stuck in one long item). When a
process dies (SIGKILL, OOM, power), its runs stop beating; the first sweep after
STALL_TIMEOUT marks them stalled.

Queued runs whose task already ended. A run is created queued and then its task is
enqueued. If the task crashes before its tracker starts the run (wrong arguments, an import
error, a worker that cannot load it) or returns without starting it, nothing else would ever
move the run out of "queued". The task backend knows how the task ended, so the sweep asks
it for each queued run's task result and fails the run with the reason. Backends that keep
no results (the immediate backend) or keep them per process (the local thread pool, asked
from another process) answer nothing; those runs are left alone.

Who sweeps: every serving process (ensure_sweeper(), started with the first WebSocket),
every process that tracks runs (the writer thread, when WritePolicy says a sweep is due),
and cron (`mark_stalled`). Marking is a guarded UPDATE, so concurrent sweepers mark each
run once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.tasks import TaskResultStatus, default_task_backend, task_backends
from django.tasks.exceptions import TaskResultDoesNotExist
from django.utils import timezone

from progress import conf, pipelines
from progress.models import OperationProgress, Status
from progress.publish.broadcast import operation_broadcast
from progress.runtime.policy import sweep_interval

logger = logging.getLogger(__name__)

# Queued runs asked about per sweep, oldest first: each is one backend lookup.
SWEEP_BATCH = 200
ENDED = (TaskResultStatus.FAILED, TaskResultStatus.SUCCESSFUL)


def queued_runs_sweep(*, grace: float | None = None) -> list[int]:
    """Fail queued runs whose task ended over grace seconds ago; returns their ids.

    grace (default STALL_TIMEOUT) leaves a task's own final write time to land first.
    """
    grace = conf.get("STALL_TIMEOUT") if grace is None else grace
    cutoff = timezone.now() - timedelta(seconds=grace)
    queued = (
        OperationProgress.objects.filter(status=Status.QUEUED)
        .exclude(task_result_id="")
        .order_by("created_at")[:SWEEP_BATCH]
    )
    failed = []
    for operation in queued:
        result = _task_result(operation)
        if result is None or result.status not in ENDED:
            continue
        if result.finished_at is not None and result.finished_at > cutoff:
            continue
        if operation.fail_queued(_reason(result)):
            operation_broadcast(operation)
            failed.append(operation.pk)
            logger.warning(
                "Run %s (%s) was still queued after its task ended (%s); marked failed",
                operation.pk,
                operation.operation_name,
                result.status,
            )
    return failed


def _task_result(operation: OperationProgress) -> Any:
    """The run's task result from the backend that ran it, or None if it cannot say."""
    try:
        backend = _backend(operation)
        if not backend.supports_get_result:
            return None
        return backend.get_result(operation.task_result_id)
    except (TaskResultDoesNotExist, NotImplementedError):
        return None
    except Exception:
        logger.exception(
            "Could not read task result %s of run %s", operation.task_result_id, operation.pk
        )
        return None


def _backend(operation: OperationProgress) -> Any:
    name = operation.metadata.get("pipeline") or operation.operation_name
    try:
        return task_backends[pipelines.get(name).task.backend]
    except pipelines.UnknownPipeline:
        return default_task_backend


def _reason(result: Any) -> str:
    """Why the run failed, from how its task ended, and what to do about it."""
    if result.status == TaskResultStatus.FAILED and result.errors:
        error = result.errors[-1]
        last_line = (error.traceback.strip().splitlines() or [error.exception_class_path])[-1]
        return (
            f"Its task failed before the run started: {last_line[:500]} (task {result.id}). "
            "Fix the cause, then re-run it."
        )
    if result.status == TaskResultStatus.FAILED:
        return f"Its task failed before the run started (task {result.id}). Re-run it."
    return (
        f"Its task ended without starting the run (task {result.id}), so nothing was done. "
        "Re-run it."
    )


def stalled_runs_mark(*, timeout: float | None = None) -> list[int]:
    """Mark running runs whose heartbeat is older than STALL_TIMEOUT as stalled; returns ids."""
    timeout = conf.get("STALL_TIMEOUT") if timeout is None else timeout
    marked = []
    for operation in OperationProgress.objects.stale(now=timezone.now(), timeout=timeout):
        last = operation.heartbeat_at or operation.updated_at
        reason = (
            f"No heartbeat for over {timeout:g} s (the last at {last:%Y-%m-%d %H:%M:%S} UTC); "
            "its process probably died. Re-run it to start again."
        )
        if operation.mark_stalled(reason=reason):
            operation_broadcast(operation)
            marked.append(operation.pk)
            logger.warning("Run %s (%s) marked stalled", operation.pk, operation.operation_name)
    return marked


def dead_runs_sweep() -> list[int]:
    """One sweep: running runs whose heartbeat stopped, queued runs whose task has ended."""
    return stalled_runs_mark() + queued_runs_sweep()


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
