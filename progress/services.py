"""Cancel from outside a run's tracker (admin, API, pages, commands); sweeps are in sweeps.py."""

from __future__ import annotations

import logging

from progress.broadcast import operation_broadcast
from progress.models import OperationProgress

__all__ = ["operation_cancel"]

logger = logging.getLogger(__name__)


def operation_cancel(operation: OperationProgress) -> bool:
    """Request a cancel: a queued run ends at once, a running one at its next item boundary."""
    if not operation.request_cancel():
        return False
    operation_broadcast(operation)
    return True
