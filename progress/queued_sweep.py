"""The queued sweep: a queued run whose task has already ended never started, so it fails.

A run is created queued and then its task is enqueued. If the task crashes before its
tracker starts the run (wrong arguments, an import error, a worker that cannot load it) or
returns without starting it, nothing else would ever move the run out of "queued": it would
sit in everyone's Active list for good. The task backend knows how the task ended, so the
sweep asks it for each queued run's task result and fails the run with the reason.

Backends that keep no results (the immediate backend) or keep them per process (the local
thread pool, asked from another process) answer nothing; those runs are left alone.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.tasks import TaskResultStatus, default_task_backend, task_backends
from django.tasks.exceptions import TaskResultDoesNotExist
from django.utils import timezone

from progress import conf, pipelines
from progress.broadcast import operation_broadcast
from progress.models import OperationProgress, Status

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
