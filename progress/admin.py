"""Admin: read-only inspection of runs, with permission-checked, logged actions."""

from __future__ import annotations

import json
from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied
from django.forms import Media
from django.forms.widgets import Script
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import mark_safe
from rest_framework.exceptions import ValidationError

from progress import pipelines
from progress.launch import form_parameters, operation_rerun, pipeline_start
from progress.logcapture import line_data, line_text
from progress.models import OperationLogLine, OperationProgress, OperationProgressQuerySet
from progress.permissions import CANCEL_ANY, can_cancel
from progress.serializers import operation_data
from progress.services import operation_broadcast, operation_cancel

# Log lines shown on a run's change page (the API and the download have all of them).
ADMIN_LOG_LINES = 20


@admin.register(OperationProgress)
class OperationProgressAdmin(admin.ModelAdmin[OperationProgress]):
    list_display = [
        "id",
        "status_badge",
        "operation_name",
        "created_by",
        "live_progress",
        "counts",
        "started_at",
        "completed_at",
        "duration_text",
        "rate_text",
    ]
    list_filter = ["status", "operation_name", "created_at"]
    search_fields = ["operation_name", "error_message", "current_operation"]
    date_hierarchy = "created_at"
    list_select_related = ["created_by"]
    actions = ["cancel_runs", "mark_runs_stalled", "rerun_runs"]
    fields = [
        "operation_name",
        "status",
        "created_by",
        "live_progress",
        "stage_text",
        "stage_results_table",
        "counts",
        "current_operation",
        "error_text",
        "row_errors_table",
        "log_tail",
        "parameters_text",
        "task_result_id",
        "seq",
        "created_at",
        "started_at",
        "heartbeat_at",
        "completed_at",
        "estimated_completion",
        "rate_text",
        "cancel_requested_at",
    ]
    readonly_fields = fields  # type: ignore[assignment]

    @property
    def media(self) -> Media:
        return super().media + Media(
            css={"all": ["progress/progress.css"]},
            js=[Script("progress/element.js", type="module")],  # type: ignore[list-item]
        )

    # Read-only audit: runs are created by trackers, never edited by hand.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser and (obj is None or not obj.is_active)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_staff and (obj is None or self._visible(request, obj))

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CANCEL_ANY)

    def has_start_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(pipelines.START_PERMISSION)

    def get_queryset(self, request: HttpRequest) -> OperationProgressQuerySet:
        return cast(OperationProgressQuerySet, super().get_queryset(request)).visible_to(
            request.user
        )

    def _visible(self, request: HttpRequest, obj: OperationProgress) -> bool:
        return OperationProgress.objects.visible_to(request.user).filter(pk=obj.pk).exists()

    # --- columns -------------------------------------------------------------------

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: OperationProgress) -> str:
        return format_html(
            '<span class="status-badge status-{}">{}</span>', obj.status, obj.get_status_display()
        )

    @admin.display(description="progress")
    def live_progress(self, obj: OperationProgress) -> str:
        """A <progress-operation> element: live over the WebSocket, static text without JS."""
        percent = "…" if obj.progress_percentage is None else f"{obj.progress_percentage:.0f} %"
        return format_html(
            '<progress-operation operation-id="{}" compact data-initial="{}">{}'
            "</progress-operation>",
            obj.pk,
            json.dumps(operation_data(obj)),
            percent,
        )

    @admin.display(description="items")
    def counts(self, obj: OperationProgress) -> str:
        total = "?" if obj.total_items is None else obj.total_items
        return (
            f"{obj.current_item}/{total} · +{obj.items_added} ~{obj.items_updated} "
            f"✗{obj.items_failed}"
        )

    @admin.display(description="duration")
    def duration_text(self, obj: OperationProgress) -> str:
        duration = obj.duration
        return "" if duration is None else str(duration).split(".")[0]

    @admin.display(description="rate")
    def rate_text(self, obj: OperationProgress) -> str:
        return "" if obj.rate is None else f"{obj.rate:.1f}/s"

    @admin.display(description="stage")
    def stage_text(self, obj: OperationProgress) -> str:
        stage = obj.metadata.get("stage")
        stages = obj.metadata.get("stages") or []
        if not stages:
            return "—"
        current = stage["index"] if stage else 0
        parts = [
            format_html("<strong>{} {}</strong>", "▶", name) if i + 1 == current else name
            for i, name in enumerate(stages)
        ]
        return format_html(
            "stage {} of {}: {}",
            current,
            len(stages),
            mark_safe(" → ".join(str(conditional_escape(p)) for p in parts)),
        )

    @admin.display(description="error")
    def error_text(self, obj: OperationProgress) -> str:
        if not obj.error_message:
            return "—"
        traceback = obj.metadata.get("traceback", "")
        return format_html(
            '<p class="errornote">{}</p>{}',
            obj.error_message,
            format_html("<details><summary>Traceback</summary><pre>{}</pre></details>", traceback)
            if traceback
            else "",
        )

    @admin.display(description="row failures")
    def row_errors_table(self, obj: OperationProgress) -> str:
        errors = obj.metadata.get("row_errors") or []
        if not errors:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((e.get("line"), e.get("value"), e.get("reason")) for e in errors),
        )
        total = obj.metadata.get("row_errors_total", len(errors))
        report = obj.metadata.get("report_path", "")
        return format_html(
            "<p>{} of {} shown{}</p><table><thead><tr><th>line</th><th>value</th><th>reason</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            len(errors),
            total,
            f"; all in {report}" if report else "",
            rows,
        )

    @admin.display(description="stage results")
    def stage_results_table(self, obj: OperationProgress) -> str:
        results = obj.metadata.get("stage_results")
        if not isinstance(results, list) or not results:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}/{}</td><td>+{} ~{} ✗{}</td><td>{}</td></tr>",
            (
                (
                    s.get("name"),
                    s.get("status"),
                    s.get("items"),
                    "?" if s.get("total") is None else s.get("total"),
                    s.get("added"),
                    s.get("updated"),
                    s.get("failed"),
                    "" if s.get("duration") is None else f"{s['duration']:.1f} s",
                )
                for s in results
                if isinstance(s, dict)
            ),
        )
        return format_html(
            "<table><thead><tr><th>stage</th><th>status</th><th>items</th><th>counts</th>"
            "<th>duration</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="log (last lines)")
    def log_tail(self, obj: OperationProgress) -> str:
        lines = list(OperationLogLine.objects.filter(run=obj).order_by("-number")[:ADMIN_LOG_LINES])
        if not lines:
            return "—"
        text = "\n".join(
            line_text(line_data(line.number, line.time, line.level, line.logger, line.message))
            for line in reversed(lines)
        )
        return format_html(
            '<pre class="run-log">{}</pre><p><a href="{}">Download the whole log</a></p>',
            text,
            reverse("operation-logs", kwargs={"pk": obj.pk, "format": "txt"}),
        )

    @admin.display(description="parameters")
    def parameters_text(self, obj: OperationProgress) -> str:
        return format_html(
            "<pre>{}</pre>", json.dumps(obj.metadata.get("parameters", {}), indent=2)
        )

    # --- actions -------------------------------------------------------------------

    @admin.action(description="Cancel selected running runs", permissions=["cancel"])
    def cancel_runs(self, request: HttpRequest, queryset: OperationProgressQuerySet) -> None:
        done = 0
        for operation in queryset.active():
            if can_cancel(request.user, operation) and operation_cancel(operation):
                self._log(request, operation, "Requested cancel")
                done += 1
        self.message_user(request, f"Cancel requested for {done} run(s).", messages.SUCCESS)

    @admin.action(
        description="Mark selected runs stalled (their process died)", permissions=["cancel"]
    )
    def mark_runs_stalled(self, request: HttpRequest, queryset: OperationProgressQuerySet) -> None:
        done = 0
        for operation in queryset.active():
            if operation.mark_stalled(reason=f"Marked stalled by {request.user} in the admin."):
                operation_broadcast(operation)
                self._log(request, operation, "Marked stalled")
                done += 1
        self.message_user(request, f"Marked {done} run(s) stalled.", messages.SUCCESS)

    @admin.action(
        description="Re-run selected finished runs with the same parameters", permissions=["start"]
    )
    def rerun_runs(self, request: HttpRequest, queryset: OperationProgressQuerySet) -> None:
        for operation in queryset.finished():
            try:
                new = operation_rerun(operation, user=request.user)
            except (pipelines.UnknownPipeline, ValueError, PermissionDenied) as exc:
                self.message_user(request, f"Run {operation.pk}: {exc}", messages.ERROR)
                continue
            self._log(request, operation, f"Re-run as run {new.pk}")
            self.message_user(
                request, f"Run {operation.pk} re-run as run {new.pk}.", messages.SUCCESS
            )

    def _log(self, request: HttpRequest, operation: OperationProgress, message: str) -> None:
        LogEntry.objects.log_actions(
            user_id=cast(int, request.user.pk),
            queryset=[operation],
            action_flag=CHANGE,
            change_message=message,
        )

    # --- launching -----------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        launch = path(
            "launch/",
            self.admin_site.admin_view(self.launch_view),
            name="progress_operationprogress_launch",
        )
        return [launch, *super().get_urls()]

    def launch_view(self, request: HttpRequest) -> HttpResponse:
        """Pick a pipeline and its parameters; start it and go to its page."""
        if not self.has_start_permission(request):
            raise PermissionDenied
        available = pipelines.available(request.user)
        if request.method == "POST":
            name = request.POST.get("pipeline", "")
            data = form_parameters(request, exclude=frozenset({"pipeline"}))
            try:
                operation = pipeline_start(name=name, data=data, user=request.user)
            except (pipelines.UnknownPipeline, ValidationError) as exc:
                self.message_user(
                    request, f"Not started: {getattr(exc, 'detail', exc)}", messages.ERROR
                )
            else:
                self._log(request, operation, f"Launched {name}")
                self.message_user(request, f"Started run {operation.pk}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:progress_operationprogress_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Launch a pipeline",
            "pipelines": [p.describe() for p in available],
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/progress/launch.html", context)
