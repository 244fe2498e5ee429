"""Signals a run sends when its status changes, for code that reacts (mail, metrics, hooks).

Each is sent with ``sender=OperationProgress`` and ``operation=`` the OperationProgress
instance holding the run as it was just written (not re-read; its fields are the new
state), once per transition, by the process that made it, after the change is committed:

- ``operation_started``: queued -> running, by the tracker's process (writer thread);
- ``operation_finished``: to completed, failed or cancelled, with ``status=``, by the
  tracker's process, or by whoever cancels a queued run or fails its enqueue;
- ``operation_stalled``: to stalled, by the sweeping process (server, worker, command).

Receivers run on the writer thread or in the request, never on the pipeline's thread.
A receiver that raises is logged and skipped; it never stops the run or the other
receivers. Keep receivers short: the writer thread waits for them.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.dispatch import Signal

__all__ = ["operation_finished", "operation_stalled", "operation_started"]

logger = logging.getLogger(__name__)

operation_started = Signal()
operation_finished = Signal()
operation_stalled = Signal()


def send_transition(signal: Signal, operation: Any, **kwargs: Any) -> None:
    """Send signal for operation now; receivers that raise are logged, not propagated."""
    for receiver, result in signal.send_robust(
        sender=type(operation), operation=operation, **kwargs
    ):
        if isinstance(result, Exception):
            logger.error(
                "Run %s: receiver %r of a progress signal raised %s: %s (the run goes on)",
                operation.pk,
                receiver,
                type(result).__name__,
                result,
                exc_info=result,
            )


def send_on_commit(signal: Signal, operation: Any, **kwargs: Any) -> None:
    """send_transition() once the caller's transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send_transition(signal, operation, **kwargs), robust=True)
