"""Who may do what with a run: one rule for the WebSocket, API, pages and admin."""

from __future__ import annotations

from typing import Any

from progress.models import OperationProgress

CANCEL_ANY = "progress.cancel_any_operation"


def can_cancel(user: Any, operation: OperationProgress) -> bool:
    """The run's owner, or a user with progress.cancel_any_operation."""
    if not getattr(user, "is_authenticated", False):
        return False
    return operation.created_by_id == user.pk or user.has_perm(CANCEL_ANY)
