"""State changes made from outside a run's tracker (admin, API, commands, sweeps)."""

from __future__ import annotations

import logging

from django.utils import timezone

from progress import conf, writer
from progress.broadcast import operation_broadcast
from progress.models import OperationProgress, Status

__all__ = ["operation_broadcast", "operation_cancel", "stalled_runs_mark"]

logger = logging.getLogger(__name__)


def operation_cancel(operation: OperationProgress) -> bool:
    """Request a cancel: a queued run ends at once, a running one at its next item boundary."""
    if not operation.request_cancel():
        return False
    if operation.status == Status.RUNNING and operation.cancel_requested_at is not None:
        # Tracked in this process (a task in the server's thread pool): no poll to wait for.
        writer.cancel_requested_here(operation.pk, operation.cancel_requested_at)
    operation_broadcast(operation)
    return True


def stalled_runs_mark(*, timeout: float | None = None) -> list[int]:
    """Mark running runs whose heartbeat is older than STALL_TIMEOUT as stalled; returns ids."""
    timeout = conf.get("STALL_TIMEOUT") if timeout is None else timeout
    marked = []
    for operation in OperationProgress.objects.stale(now=timezone.now(), timeout=timeout):
        reason = (
            f"No heartbeat for over {timeout:g}s (last at {operation.heartbeat_at}); "
            "its process probably died. Re-run it to start again."
        )
        if operation.mark_stalled(reason=reason):
            operation_broadcast(operation)
            marked.append(operation.pk)
            logger.warning("Run %s (%s) marked stalled", operation.pk, operation.operation_name)
    return marked


def dead_runs_sweep() -> list[int]:
    """One sweep: running runs whose heartbeat stopped, queued runs whose task has ended."""
    from progress.queued_sweep import queued_runs_sweep  # it reads the task backends

    return stalled_runs_mark() + queued_runs_sweep()
