"""The wire representation of a run, defined once for WebSocket, REST API, pages and admin.

Two views of one serializer: the summary (the default: live frames, snapshots, lists,
pages, admin) carries the counters and a small metadata summary; the detail (the API's
run detail) carries the whole bounded metadata, without tracebacks and server paths for
users who are not staff (see progress/wire.py).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from progress import downloads, wire
from progress.models import OperationProgress, Outcome


class OperationProgressSerializer(serializers.ModelSerializer[OperationProgress]):
    """A run as live frames carry it: counters plus a metadata summary of about 4 KiB."""

    metadata = serializers.SerializerMethodField()
    error_message = serializers.SerializerMethodField()
    is_active = serializers.BooleanField(read_only=True)
    is_indeterminate = serializers.BooleanField(read_only=True)
    cancel_requested = serializers.SerializerMethodField()
    outcome = serializers.ChoiceField(
        choices=Outcome.choices,
        read_only=True,
        allow_null=True,
        help_text="How the run ended: completed, completed_with_failures (items_failed > 0), "
        "failed, cancelled or stalled; null while it is queued or running.",
    )

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
            "outcome",
        ]
        read_only_fields = fields

    def get_cancel_requested(self, operation: OperationProgress) -> bool:
        return operation.cancel_requested_at is not None

    def get_metadata(self, operation: OperationProgress) -> dict[str, Any]:
        return wire.metadata_summary(operation.metadata)

    def get_error_message(self, operation: OperationProgress) -> str:
        return wire.frame_error_message(operation.error_message)


class RunFileSerializer(serializers.Serializer[Any]):
    """A file the run owns (an upload it read, a report it wrote) and where to download it."""

    label = serializers.CharField()
    kind = serializers.CharField(help_text='"upload", "report" or what the pipeline named it')
    url = serializers.CharField(help_text="Download path; only for users who may see the run.")


class OperationProgressDetailSerializer(OperationProgressSerializer):
    """One run with its whole bounded metadata; tracebacks and server paths for staff only.

    Pass the viewer as context["user"] (or context["request"], as DRF views do).
    """

    files = serializers.SerializerMethodField()

    class Meta(OperationProgressSerializer.Meta):
        fields = [*OperationProgressSerializer.Meta.fields, "files"]
        read_only_fields = fields

    @extend_schema_field(RunFileSerializer(many=True))
    def get_files(self, operation: OperationProgress) -> list[dict[str, Any]]:
        return downloads.file_links(operation)

    def get_metadata(self, operation: OperationProgress) -> dict[str, Any]:
        return wire.metadata_detail(operation.metadata, staff=self._viewer_is_staff())

    def get_error_message(self, operation: OperationProgress) -> str:
        return wire.detail_error_message(operation.error_message, staff=self._viewer_is_staff())

    def _viewer_is_staff(self) -> bool:
        user = self.context.get("user")
        if user is None and self.context.get("request") is not None:
            user = self.context["request"].user
        return bool(getattr(user, "is_staff", False) or getattr(user, "is_superuser", False))


@cache
def _shared_serializer() -> OperationProgressSerializer:
    # Building a ModelSerializer's fields costs more than serialising one row with them;
    # the bound fields hold no per-call state, so one instance serves every thread.
    return OperationProgressSerializer()


def operation_data(
    operation: OperationProgress, *, detail: bool = False, user: Any = None
) -> dict[str, Any]:
    """Serialise one run to its wire dict (JSON-ready): the summary, or the detail for user."""
    if detail:
        serializer = OperationProgressDetailSerializer(context={"user": user})
        return dict(serializer.to_representation(operation))
    return dict(_shared_serializer().to_representation(operation))
