"""Waiting in tests: eventually() polls a condition with a deadline (never a fixed sleep).

    run = eventually(lambda: OperationProgress.objects.filter(status="running").first())
    await aeventually(lambda: "task_completed" in published.types())

The helpers are progress.testing's (the ones host projects use); this module adds the
suite's own waits built on them.
"""

from __future__ import annotations

from progress.models import OperationProgress
from progress.testing import aeventually, eventually

__all__ = ["aeventually", "eventually", "wait_for_final"]


def wait_for_final(operation_id: int, timeout: float = 20.0) -> OperationProgress:
    """The run once it has finished; fail if it is still active after timeout."""

    def finished() -> OperationProgress | None:
        operation = OperationProgress.objects.get(pk=operation_id)
        return None if operation.is_active else operation

    return eventually(finished, timeout, step=0.05)
