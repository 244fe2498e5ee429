"""The wire representation of a run, defined once for WebSocket, REST API, pages and admin.

Two views of one serializer: the summary (the default: live frames, snapshots, lists,
pages, admin) carries the counters and a small metadata summary; the detail (the API's
run detail) carries the whole bounded metadata, without tracebacks and server paths for
users who are not staff (the metadata rules below).

What of a run's metadata goes on the wire (the first half of this module):

Progress knows no domain keys. A key is a detail when it is in DETAIL_KEYS or ends in one
of DETAIL_SUFFIXES (row_errors, schema_errors, report_path, ...): such keys are never
broadcast, only served by the API detail. Everything else is summarised: strings cut
to MAX_SUMMARY_TEXT, lists and objects to MAX_SUMMARY_ITEMS entries, nesting to
MAX_SUMMARY_DEPTH, and the whole summary to about MAX_SUMMARY_BYTES (the largest keys go
first and are named in "truncated_keys").

Stored names. A run's files are stored under random names (metadata["files"]); frames
and the detail for users who are not staff show the file's own name (its label) instead.

Server paths. Users who are not staff never see a traceback or a server path. The rule:
any string value that starts with a server directory (the working directory, the
Python environment, MEDIA_ROOT, STATIC_ROOT, the run files' storage location, the temp
dir) has that directory replaced by "…", and the value of a key named "file"
or ending in "_path" that is an absolute path is reduced to its file name. Live frames
go to owners too, so the summary and the frame's error_message follow the same rule.
"""

from __future__ import annotations

import ntpath
import os
import re
import sys
import tempfile
from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import NoReverseMatch, reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from progress import files, pipelines
from progress.limits import ELLIPSIS, MAX_METADATA_BYTES, bounded_metadata, truncate
from progress.models import OperationProgress, Outcome

__all__ = ["OperationProgressDetailSerializer", "OperationProgressSerializer", "operation_data"]

DETAIL_KEYS = frozenset({"row_errors", "traceback", "parameters", "report_path", "stage_results"})
DETAIL_SUFFIXES = ("_errors", "_path")
# Keys whose absolute-path values are reduced to a file name for users who are not staff.
PATH_KEYS = frozenset({"file", "path", "source_file"})
STAFF_ONLY_KEYS = frozenset({"traceback"})

MAX_SUMMARY_BYTES = 4 * 1024
MAX_SUMMARY_TEXT = 200
MAX_SUMMARY_ITEMS = 50
MAX_SUMMARY_DEPTH = 3
MAX_KEY_TEXT = 40
# Characters of error_message in a live frame; the API detail has all of it.
MAX_FRAME_ERROR_TEXT = 1000


def is_detail_key(key: str) -> bool:
    """True for metadata keys that only the API detail serves (never broadcast)."""
    return key in DETAIL_KEYS or key.endswith(DETAIL_SUFFIXES)


def metadata_summary(metadata: Any) -> dict[str, Any]:
    """The metadata a live frame carries: no detail keys, short values, about 4 KiB at most."""
    if not isinstance(metadata, dict):
        return {}
    redact = run_redactor(metadata)
    details = [key for key in metadata if is_detail_key(key)]
    rest = [(key, value) for key, value in metadata.items() if not is_detail_key(key)]
    summary = {
        truncate(key, MAX_KEY_TEXT): _shrink(value, MAX_SUMMARY_DEPTH, redact, key)
        for key, value in rest[:MAX_SUMMARY_ITEMS]
    }
    overflow = [key for key, _ in rest[MAX_SUMMARY_ITEMS:]]
    summary = bounded_metadata(summary, MAX_SUMMARY_BYTES)
    if overflow:
        dropped = [*summary.get("truncated_keys", []), *overflow]
        summary["truncated_keys"] = _short_names(dropped)
    if details:
        summary["detail_keys"] = _short_names(details)
    return summary


def metadata_detail(metadata: Any, *, staff: bool) -> dict[str, Any]:
    """The API detail's metadata: all (bounded) for staff; no traceback or paths for others."""
    if not isinstance(metadata, dict):
        return {}
    bounded = bounded_metadata(metadata, MAX_METADATA_BYTES)
    if staff:
        return bounded
    redact = run_redactor(metadata)
    return {
        key: _redact(value, redact, key)
        for key, value in bounded.items()
        if key not in STAFF_ONLY_KEYS
    }


def frame_error_message(text: str) -> str:
    """A run's error message in a live frame: no server paths, at most 1000 characters."""
    return truncate(path_redactor()(text or ""), MAX_FRAME_ERROR_TEXT) if text else ""


def detail_error_message(text: str, *, staff: bool) -> str:
    """A run's error message in the API detail: whole; without server paths for non-staff."""
    return text if staff or not text else path_redactor()(text)


def run_redactor(metadata: dict[str, Any]) -> Callable[[str], str]:
    """path_redactor(), and the run's stored file names ("progress/uploads/877c….csv")
    replaced by the names their users gave them ("big.csv")."""
    labels = {
        entry["name"]: str(entry.get("label") or "file") for entry in files.run_files(metadata)
    }
    paths = path_redactor()
    return lambda text: labels[text] if text in labels else paths(text)


def path_redactor() -> Callable[[str], str]:
    """A function replacing the server's directories in a string by "…"."""
    pattern = _roots_pattern()
    return lambda text: pattern.sub(ELLIPSIS, text) if pattern is not None else text


# Settings naming server directories; the storage's own location is added to them.
ROOT_SETTINGS = ("MEDIA_ROOT", "STATIC_ROOT")


def _storage_location() -> str:
    """Where the run files' storage keeps them on this server, if it is a file system."""
    try:
        return str(getattr(files.storage(), "location", "") or "")
    except Exception:  # a misconfigured alias is reported by the system checks
        return ""


@cache
def _roots_pattern() -> re.Pattern[str] | None:
    roots = [str(getattr(settings, name, "") or "") for name in ROOT_SETTINGS]
    roots += [os.getcwd(), sys.prefix, _storage_location(), tempfile.gettempdir()]
    # A root of "/" would redact every absolute path's first slash and nothing useful.
    stripped = {root.rstrip("/\\") for root in roots if len(root.rstrip("/\\")) > 1}
    if not stripped:
        return None
    alternatives = "|".join(re.escape(root) for root in sorted(stripped, key=len, reverse=True))
    # A root only at a path boundary: /work/main must not eat /work/mainline.
    return re.compile(f"(?:{alternatives})(?=[/\\\\]|$)")


@receiver(setting_changed)
def _reset_on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in (*ROOT_SETTINGS, "STORAGES", "PROGRESS"):
        _roots_pattern.cache_clear()


def _shrink(value: Any, depth: int, redact: Callable[[str], str], key: str = "") -> Any:
    if isinstance(value, str):
        return truncate(_clean_text(value, key, redact), MAX_SUMMARY_TEXT)
    if isinstance(value, dict):
        if depth <= 0:
            return ELLIPSIS
        items = [(str(k), v) for k, v in value.items() if not is_detail_key(str(k))]
        return {
            truncate(k, MAX_KEY_TEXT): _shrink(v, depth - 1, redact, k)
            for k, v in items[:MAX_SUMMARY_ITEMS]
        }
    if isinstance(value, list | tuple):
        if depth <= 0:
            return ELLIPSIS
        return [_shrink(v, depth - 1, redact) for v in value[:MAX_SUMMARY_ITEMS]]
    return value


def _redact(value: Any, redact: Callable[[str], str], key: str = "") -> Any:
    if isinstance(value, str):
        return _clean_text(value, key, redact)
    if isinstance(value, dict):
        return {k: _redact(v, redact, str(k)) for k, v in value.items() if k not in STAFF_ONLY_KEYS}
    if isinstance(value, list):
        return [_redact(v, redact) for v in value]
    return value


def _clean_text(text: str, key: str, redact: Callable[[str], str]) -> str:
    if (key in PATH_KEYS or key.endswith("_path")) and (os.path.isabs(text) or ntpath.isabs(text)):
        return ntpath.basename(text)  # ntpath splits on both kinds of slash
    return str(redact(text))


def _short_names(keys: list[str]) -> list[str]:
    return sorted({truncate(key, MAX_KEY_TEXT) for key in keys})[:MAX_SUMMARY_ITEMS]


def run_title(operation: OperationProgress) -> str:
    """The title of the pipeline that started the run or shares its name; else operation_name.

    A tracked block no pipeline names keeps the name its author gave it, as written.
    """
    metadata = operation.metadata if isinstance(operation.metadata, dict) else {}
    name = str(metadata.get("pipeline") or operation.operation_name)
    try:
        return pipelines.get(name).title
    except pipelines.UnknownPipeline:
        return operation.operation_name


# --- the serializers -----------------------------------------------------------------


class OperationProgressSerializer(serializers.ModelSerializer[OperationProgress]):
    """A run as live frames carry it: counters plus a metadata summary of about 4 KiB."""

    metadata = serializers.SerializerMethodField()
    error_message = serializers.SerializerMethodField()
    is_active = serializers.BooleanField(read_only=True)
    is_indeterminate = serializers.BooleanField(read_only=True)
    title = serializers.SerializerMethodField(
        help_text="The run's name for people: its pipeline's title (\"Import genes\"), else "
        "operation_name. operation_name stays the machine name."
    )
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
            "title",
            "status",
            "seq",
            "current_operation",
            "progress_percentage",
            "current_item",
            "total_items",
            "items_added",
            "items_updated",
            "items_unchanged",
            "items_skipped",
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

    def get_title(self, operation: OperationProgress) -> str:
        return run_title(operation)

    def get_cancel_requested(self, operation: OperationProgress) -> bool:
        return operation.cancel_requested_at is not None

    def get_metadata(self, operation: OperationProgress) -> dict[str, Any]:
        return metadata_summary(operation.metadata)

    def get_error_message(self, operation: OperationProgress) -> str:
        return frame_error_message(operation.error_message)


class RunFileSerializer(serializers.Serializer[Any]):
    """A file the run owns (an upload it read, a report it wrote) and where to download it."""

    label = serializers.CharField()
    kind = serializers.CharField(help_text='"upload", "report" or what the pipeline named it')
    url = serializers.CharField(help_text="Download path; only for users who may see the run.")


class RunLinksSerializer(serializers.Serializer[Any]):
    """Where to go from a run: its logs, its page, the run it repeats and its re-runs."""

    logs = serializers.CharField(help_text="The run's log lines as JSON pages.")
    logs_text = serializers.CharField(help_text="The whole stored log as text.")
    page = serializers.CharField(
        allow_null=True, help_text="The run's live page (null if the host has no pages)."
    )
    rerun_of = serializers.CharField(
        allow_null=True, help_text="API detail of the run this one repeats, or null."
    )
    reruns = serializers.ListField(
        child=serializers.CharField(), help_text="API details of the runs that repeat this one."
    )


class OperationProgressDetailSerializer(OperationProgressSerializer):
    """One run with its whole bounded metadata; tracebacks and server paths for staff only.

    Pass the viewer as context["user"] (or context["request"], as DRF views do).
    """

    files = serializers.SerializerMethodField()
    reruns = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()
    # Who re-ran it, by name (an id would be another user's row id, for nothing).
    rerun_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta(OperationProgressSerializer.Meta):
        fields = [
            *OperationProgressSerializer.Meta.fields,
            "files",
            "rerun_of",
            "rerun_by",
            "reruns",
            "links",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_reruns(self, operation: OperationProgress) -> list[int]:
        """Ids of the runs that repeat this one, those the viewer may see (one query per run:
        reruns and links share it)."""
        cache = self.context.setdefault("_reruns", {})
        if operation.pk not in cache:
            runs = OperationProgress.objects.visible_to(self._viewer()).filter(rerun_of=operation)
            cache[operation.pk] = list(runs.order_by("pk").values_list("pk", flat=True))
        return list(cache[operation.pk])

    @extend_schema_field(RunLinksSerializer)
    def get_links(self, operation: OperationProgress) -> dict[str, Any]:
        detail = "operation-detail"
        try:
            page: str | None = reverse("progress:detail", args=[operation.pk])
        except NoReverseMatch:  # a host that includes the API but not the pages
            page = None
        return {
            "logs": reverse("operation-logs", kwargs={"pk": operation.pk}),
            "logs_text": reverse("operation-logs", kwargs={"pk": operation.pk, "format": "txt"}),
            "page": page,
            "rerun_of": None
            if operation.rerun_of_id is None
            else reverse(detail, args=[operation.rerun_of_id]),
            "reruns": [reverse(detail, args=[pk]) for pk in self.get_reruns(operation)],
        }

    @extend_schema_field(RunFileSerializer(many=True))
    def get_files(self, operation: OperationProgress) -> list[dict[str, Any]]:
        return files.file_links(operation)

    def get_metadata(self, operation: OperationProgress) -> dict[str, Any]:
        return metadata_detail(operation.metadata, staff=self._viewer_is_staff())

    def get_error_message(self, operation: OperationProgress) -> str:
        return detail_error_message(operation.error_message, staff=self._viewer_is_staff())

    def _viewer(self) -> Any:
        user = self.context.get("user")
        if user is None and self.context.get("request") is not None:
            user = self.context["request"].user
        return user

    def _viewer_is_staff(self) -> bool:
        user = self._viewer()
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
