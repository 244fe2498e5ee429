"""Polling with a deadline: the one way tests wait (never a fixed sleep)."""

from __future__ import annotations

import time

from progress.models import OperationProgress


def wait_for(predicate, timeout=5.0):
    """Poll until predicate() is true; fail after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"not true within {timeout}s: {predicate}")


def wait_for_final(operation_id, timeout=20.0):
    """The run once it has finished; fail if it is still active after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        operation = OperationProgress.objects.get(pk=operation_id)
        if not operation.is_active:
            return operation
        time.sleep(0.05)
    raise AssertionError(f"run {operation_id} still {operation.status}")
