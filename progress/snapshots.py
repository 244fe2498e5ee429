"""Reads the consumer needs, each one query, each limited to what the user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from progress import conf
from progress.models import ACTIVE_STATUSES, OperationProgress
from progress.serializers import operation_data

MAX_ACTIVE_IN_SNAPSHOT = 500


def snapshot_for(user: Any, *, operation_id: int | None = None) -> list[dict[str, Any]]:
    """Active runs plus the most recent finished ones (or just one run) visible to user."""
    visible = OperationProgress.objects.visible_to(user)
    if operation_id is not None:
        return [operation_data(op) for op in visible.filter(pk=operation_id)]
    recent_ids = visible.exclude(status__in=ACTIVE_STATUSES).values("pk")[
        : conf.get("SNAPSHOT_RECENT")
    ]
    rows = visible.filter(Q(status__in=ACTIVE_STATUSES) | Q(pk__in=recent_ids))
    return [operation_data(op) for op in rows[:MAX_ACTIVE_IN_SNAPSHOT]]


def newer_than(
    user: Any, since: dict[int, int], *, operation_id: int | None = None
) -> list[dict[str, Any]]:
    """Runs the client holds at an older seq, plus visible runs it does not know yet."""
    current = snapshot_for(user, operation_id=operation_id)
    known = {op["id"] for op in current}
    missing = [pk for pk in since if pk not in known]
    if missing and operation_id is None:
        # Runs the client follows that fell out of the snapshot window (finished long ago).
        visible = OperationProgress.objects.visible_to(user).filter(pk__in=missing)
        current += [operation_data(op) for op in visible]
    return [op for op in current if op["seq"] > since.get(op["id"], -1)]


def is_visible(user: Any, operation_id: int) -> bool:
    return OperationProgress.objects.visible_to(user).filter(pk=operation_id).exists()
