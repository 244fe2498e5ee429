"""Cancel from outside a run's tracker (admin, API, pages, commands), and who may.

One rule for the WebSocket, API, pages and admin: a run's owner may cancel it, and so may
a user with progress.cancel_any_operation. A queued run ends at once; a running one at its
next item boundary (its tracker polls for the request; progress/tracker.py).
"""

from __future__ import annotations

from typing import Any

from progress.models import OperationProgress, Status
from progress.publish.broadcast import operation_broadcast
from progress.runtime import writer

__all__ = ["CANCEL_ANY", "can_cancel", "operation_cancel"]

CANCEL_ANY = "progress.cancel_any_operation"


def can_cancel(user: Any, operation: OperationProgress) -> bool:
    """The run's owner, or a user with progress.cancel_any_operation."""
    if not getattr(user, "is_authenticated", False):
        return False
    return operation.created_by_id == user.pk or user.has_perm(CANCEL_ANY)


def operation_cancel(operation: OperationProgress) -> bool:
    """Request a cancel: a queued run ends at once, a running one at its next item boundary."""
    if not operation.request_cancel():
        return False
    if operation.status == Status.RUNNING and operation.cancel_requested_at is not None:
        # Tracked in this process (a task in the server's thread pool): no poll to wait for.
        writer.cancel_requested_here(operation.pk, operation.cancel_requested_at)
    operation_broadcast(operation)
    return True
