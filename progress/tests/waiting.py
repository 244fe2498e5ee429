"""Waiting in tests: eventually() polls a condition with a deadline (never a fixed sleep).

run = eventually(lambda: OperationProgress.objects.filter(status="running").first())
await aeventually(lambda: "task_completed" in published.types())
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from progress.models import OperationProgress

STEP = 0.02


def eventually[T](predicate: Callable[[], T], timeout: float = 5.0, step: float = STEP) -> T:
    """predicate()'s first true value, polled every step seconds; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true within {timeout}s: {_name(predicate)}")
        time.sleep(step)


async def aeventually[T](predicate: Callable[[], T], timeout: float = 5.0, step: float = STEP) -> T:
    """See eventually(); sleeps without blocking the event loop (predicate must not block)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true within {timeout}s: {_name(predicate)}")
        await asyncio.sleep(step)


# The name the suite used before eventually(); the same function.
wait_for = eventually


def wait_for_final(operation_id: int, timeout: float = 20.0) -> OperationProgress:
    """The run once it has finished; fail if it is still active after timeout."""

    def finished() -> OperationProgress | None:
        operation = OperationProgress.objects.get(pk=operation_id)
        return None if operation.is_active else operation

    return eventually(finished, timeout, step=0.05)


def _name(predicate: Callable[..., object]) -> str:
    code = getattr(predicate, "__code__", None)
    if code is None:
        return repr(predicate)
    return f"{code.co_name} at {code.co_filename.rsplit('/', 1)[-1]}:{code.co_firstlineno}"
