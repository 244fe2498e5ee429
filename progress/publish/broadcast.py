"""The one way a run's state reaches the channel layer, for the writer, services and relay.

A row (saved, or built by the writer from a run's new fields) is serialised once into the
layer message for its run's groups; the publisher sends it (coalescing, retrying), or the
relay awaits the sends itself.
"""

from __future__ import annotations

import logging
from typing import Any

from progress.models import OperationProgress
from progress.protocol import layer_message
from progress.publish.publisher import get_publisher
from progress.publish.visibility import log_group, run_groups
from progress.serializers import operation_data

logger = logging.getLogger(__name__)


def state_message(operation: OperationProgress) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The run's groups and the layer message holding its state (its encoded frame)."""
    data = operation_data(operation)
    return run_groups(operation.pk, operation.created_by_id), layer_message(data)


def operation_broadcast(operation: OperationProgress) -> None:
    """Send a run's state to everyone who may see it; never raises (the table is the truth)."""
    try:
        groups, message = state_message(operation)
    except Exception:
        logger.exception("Could not serialise run %s", operation.pk)
        return
    get_publisher().publish(groups, message)


async def operation_send(layer: Any, operation: OperationProgress) -> None:
    """Send a run's state through layer now, awaiting each group (the relay's own loop)."""
    groups, message = state_message(operation)
    for group in groups:
        await layer.group_send(group, message)


def log_broadcast(run_id: int, message: dict[str, Any]) -> None:
    """Send a run's new log lines to its page's log group only (not coalesced)."""
    get_publisher().publish_log(log_group(run_id), message)
