"""The WebSocket protocol: group names, message types and close codes, in one place."""

from __future__ import annotations

import json
from typing import Any

from progress.models import Status

# Groups a run is broadcast to. Staff (or everyone, with DASHBOARD_VISIBILITY="all")
# listen on ALL_GROUP; a user on their own group; a single-run page on the run's group.
ALL_GROUP = "progress.all"


def user_group(user_id: int) -> str:
    return f"progress.user.{user_id}"


def operation_group(operation_id: int) -> str:
    return f"progress.op.{operation_id}"


def groups_for(operation_id: int, created_by_id: int | None) -> tuple[str, ...]:
    """Every group one run's events go to."""
    groups = [ALL_GROUP, operation_group(operation_id)]
    if created_by_id is not None:
        groups.append(user_group(created_by_id))
    return tuple(groups)


# Server -> client event type for each status.
EVENT_TYPES: dict[str, str] = {
    Status.QUEUED: "progress_update",
    Status.RUNNING: "progress_update",
    Status.COMPLETED: "task_completed",
    Status.FAILED: "task_failed",
    Status.CANCELLED: "task_cancelled",
    Status.STALLED: "task_stalled",
}

# Close codes. Daphne lets an application close only with 1000 or 3000-4999.
CLOSE_UNAUTHENTICATED = 4001
CLOSE_FORBIDDEN = 4003  # unknown run or not yours: the same code, so ids cannot be probed
CLOSE_RATE_LIMITED = 4008
CLOSE_MESSAGE_TOO_BIG = 4009

# The channel-layer message type the consumer handles (dispatched to progress_event).
LAYER_EVENT = "progress.event"


def encode_event(data: dict[str, Any]) -> str:
    """Encode one run's event frame; done once per broadcast, not once per client."""
    return json.dumps(
        {"type": EVENT_TYPES[data["status"]], "data": data}, separators=(",", ":"), default=str
    )


def layer_message(data: dict[str, Any]) -> dict[str, Any]:
    """The channel-layer message for one run's state: its id, seq and encoded frame."""
    return {"type": LAYER_EVENT, "id": data["id"], "seq": data["seq"], "text": encode_event(data)}
