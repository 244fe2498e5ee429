"""The wire representation of a run, defined once for WebSocket, REST API, pages and admin."""

from __future__ import annotations

from functools import cache
from typing import Any

from rest_framework import serializers

from progress.models import OperationProgress


class OperationProgressSerializer(serializers.ModelSerializer[OperationProgress]):
    is_active = serializers.BooleanField(read_only=True)
    is_indeterminate = serializers.BooleanField(read_only=True)
    cancel_requested = serializers.SerializerMethodField()

    class Meta:
        model = OperationProgress
        fields = [
            "id",
            "operation_name",
            "status",
            "seq",
            "current_operation",
            "progress_percentage",
            "current_item",
            "total_items",
            "items_added",
            "items_updated",
            "items_failed",
            "error_message",
            "rate",
            "metadata",
            "created_by",
            "task_result_id",
            "started_at",
            "completed_at",
            "estimated_completion",
            "heartbeat_at",
            "created_at",
            "updated_at",
            "is_active",
            "is_indeterminate",
            "cancel_requested",
        ]
        read_only_fields = fields

    def get_cancel_requested(self, operation: OperationProgress) -> bool:
        return operation.cancel_requested_at is not None


@cache
def _shared_serializer() -> OperationProgressSerializer:
    # Building a ModelSerializer's fields costs more than serialising one row with them;
    # the bound fields hold no per-call state, so one instance serves every thread.
    return OperationProgressSerializer()


def operation_data(operation: OperationProgress) -> dict[str, Any]:
    """Serialise one run to its wire dict (JSON-ready)."""
    return dict(_shared_serializer().to_representation(operation))
