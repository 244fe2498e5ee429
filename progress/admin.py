"""Admin: read-only inspection of runs, with permission-checked, logged actions."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.forms.widgets import Script
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import ngettext
from rest_framework.exceptions import PermissionDenied as APIPermissionDenied
from rest_framework.exceptions import ValidationError

from progress import files, pipelines
from progress.cancel import CANCEL_ANY, can_cancel, operation_cancel
from progress.launch import (
    StorageFull,
    TooManyStarts,
    field_errors,
    form_parameters,
    operation_rerun,
    pipeline_start,
    rerun_refusal,
)
from progress.models import (
    LATE_CANCEL_TEXT,
    OperationLogLine,
    OperationProgress,
    OperationProgressQuerySet,
)
from progress.models import Outcome as RunOutcome
from progress.publish.broadcast import operation_broadcast
from progress.runtime.logcapture import line_data, line_text
from progress.serializers import operation_data
from progress.web.listing import run_description, search_filter

# ModelAdmin is generic only to type checkers (django-stubs); subscripting it at run time
# raises TypeError unless django_stubs_ext.monkeypatch() ran, which a host need not do.
if TYPE_CHECKING:
    RunModelAdmin = admin.ModelAdmin[OperationProgress]
else:
    RunModelAdmin = admin.ModelAdmin

# Log lines shown on a run's change page (the API and the download have all of them).
ADMIN_LOG_LINES = 20
# A run's change page: what happened first, its times, then (collapsed) what only
# debugging needs.
RUN_FIELDS = (
    "operation_name",
    "created_by",
    "rerun_links",
    "live_progress",
    "stage_text",
    "stage_results_table",
    "counts",
    "current_operation",
    "error_text",
    "row_errors_table",
    "log_tail",
    "parameters_text",
)
TIME_FIELDS = (
    "created_at_text",
    "started_at_text",
    "heartbeat_at_text",
    "completed_at_text",
    "estimated_completion_text",
    "rate_text",
    "cancel_requested_at_text",
)
INTERNAL_FIELDS = ("task_result_id", "seq")


class OwnerFilter(admin.RelatedOnlyFieldListFilter):
    """Runs by owner: only users who own a run are offered."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.title = "owner"


class OutcomeFilter(admin.SimpleListFilter):
    """How runs ended, "Has failures" included (completed with failures, failed, stalled)."""

    title = "outcome"
    parameter_name = "outcome"
    HAS_FAILURES = "has_failures"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(self.HAS_FAILURES, "Has failures"), *RunOutcome.choices]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() == self.HAS_FAILURES:
            return queryset.with_failures()
        if self.value() in RunOutcome.values:
            return queryset.with_outcome(self.value())
        return queryset


@admin.register(OperationProgress)
class OperationProgressAdmin(RunModelAdmin):
    # One live cell (bar, percent, items) instead of the whole run card and a static items
    # column beside it: a row never shows two different counts (change_list.html keeps the
    # cell and the status badge live).
    # Narrow enough for 1280 px with the admin's navigation and filter sidebars open.
    list_display = [
        "id",
        "status_badge",
        "name_text",
        "user_text",
        "progress_cell",
        "started_text",
        "duration_text",
    ]
    list_filter = [
        "status",
        OutcomeFilter,
        "operation_name",
        ("created_by", OwnerFilter),
        "created_at",
    ]
    # The search box needs search_fields; get_search_results() searches as the list page.
    search_fields = ["operation_name"]
    search_help_text = "Owner, file, scope or other parameter, #id; or words of an error."
    date_hierarchy = "created_at"
    list_select_related = ["created_by", "rerun_by"]
    actions = ["cancel_runs", "mark_runs_stalled", "rerun_runs"]
    fieldsets = [
        (None, {"fields": RUN_FIELDS}),
        ("Times", {"fields": TIME_FIELDS}),
        ("Internals", {"classes": ["collapse"], "fields": INTERNAL_FIELDS}),
    ]
    readonly_fields = [*RUN_FIELDS, *TIME_FIELDS, *INTERNAL_FIELDS]

    class Media:
        # admin.css only: the pages' progress.css styles whole documents (links, body) and
        # would restyle the admin. <progress-operation> loads it into its own shadow root.
        css = {"all": ["progress/admin.css"]}
        js = [Script("progress/element.js", type="module")]

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

    def get_search_results(
        self, request: HttpRequest, queryset: Any, search_term: str
    ) -> tuple[Any, bool]:
        """The list page's search (progress.web.listing.search_filter: owner, files,
        parameters, #id), and runs whose error message holds the whole text (for audit)."""
        text = search_term.strip()
        if not text:
            return queryset, False
        return queryset.filter(search_filter(text) | Q(error_message__icontains=text)), False

    def _visible(self, request: HttpRequest, obj: OperationProgress) -> bool:
        return OperationProgress.objects.visible_to(request.user).filter(pk=obj.pk).exists()

    # --- columns -------------------------------------------------------------------

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: OperationProgress) -> str:
        return format_html(
            '<span class="status-badge status-{}" data-run-id="{}">{}</span>',
            obj.outcome or obj.status,
            obj.pk,
            obj.status_text,
        )

    @admin.display(description="operation", ordering="operation_name")
    def name_text(self, obj: OperationProgress) -> str:
        """The name, breakable after its underscores so the column stays narrow."""
        return mark_safe(
            "_<wbr>".join(conditional_escape(p) for p in obj.operation_name.split("_"))
        )

    @admin.display(description="user", ordering="created_by__username")
    def user_text(self, obj: OperationProgress) -> str:
        return "—" if obj.created_by is None else obj.created_by.get_username()

    @admin.display(description="progress")
    def progress_cell(self, obj: OperationProgress) -> str:
        """A small bar with the percentage, the items below; kept live by change_list.html."""
        value = percent_value(obj.progress_percentage)
        return format_html(
            '<div class="run-progress" data-run-id="{}"><div class="run-progress__bar">{}'
            '<span class="run-progress__percent">{}</span></div>'
            '<div class="run-progress__items">{}</div></div>',
            obj.pk,
            format_html('<progress max="100" value="{}"></progress>', value)
            if value is not None
            else mark_safe('<progress max="100"></progress>'),
            "" if value is None else f"{value}%",
            items_text(obj),
        )

    @admin.display(description="started", ordering="started_at")
    def started_text(self, obj: OperationProgress) -> str:
        return time_html(obj.started_at, "j M H:i T")

    @admin.display(description="created")
    def created_at_text(self, obj: OperationProgress) -> str:
        return time_html(obj.created_at)

    @admin.display(description="started")
    def started_at_text(self, obj: OperationProgress) -> str:
        return time_html(obj.started_at)

    @admin.display(description="last heartbeat")
    def heartbeat_at_text(self, obj: OperationProgress) -> str:
        return time_html(obj.heartbeat_at)

    @admin.display(description="completed")
    def completed_at_text(self, obj: OperationProgress) -> str:
        return time_html(obj.completed_at)

    @admin.display(description="estimated completion")
    def estimated_completion_text(self, obj: OperationProgress) -> str:
        return time_html(obj.estimated_completion)

    @admin.display(description="cancel requested")
    def cancel_requested_at_text(self, obj: OperationProgress) -> str:
        return time_html(obj.cancel_requested_at)

    @admin.display(description="re-runs")
    def rerun_links(self, obj: OperationProgress) -> str:
        """The run this one repeats (and who re-ran it) and the runs that repeat this one."""
        parts = []
        if obj.rerun_of_id is not None:
            by = obj.rerun_by.get_username() if obj.rerun_by is not None else "someone"
            parts.append(
                format_html(
                    'Re-run of <a href="{}" data-testid="rerun-of">#{}</a> by {}',
                    self._url("change", obj.rerun_of_id),
                    obj.rerun_of_id,
                    by,
                )
            )
        again = list(obj.reruns.order_by("pk").values_list("pk", flat=True))
        if again:
            links = format_html_join(
                ", ",
                '<a href="{}" data-testid="rerun">#{}</a>',
                ((self._url("change", pk), pk) for pk in again),
            )
            parts.append(format_html("Re-run as {}", links))
        return mark_safe("<br>".join(parts)) if parts else "—"

    @admin.display(description="progress")
    def live_progress(self, obj: OperationProgress) -> str:
        """The run card, live over the WebSocket; the percentage as text without JS."""
        value = percent_value(obj.progress_percentage)
        return format_html(
            '<progress-operation operation-id="{}" data-initial="{}">{}</progress-operation>',
            obj.pk,
            json.dumps(operation_data(obj)),
            "…" if value is None else f"{value}%",
        )

    @admin.display(description="items")
    def counts(self, obj: OperationProgress) -> str:
        if obj.is_active:  # the card above is live; a static count here would contradict it
            return "— (live above while the run is active)"
        total = "?" if obj.total_items is None else f"{obj.total_items:,}"
        return (
            f"{obj.current_item:,} of {total} · {obj.items_added:,} added · "
            f"{obj.items_updated:,} updated · {obj.items_unchanged:,} unchanged · "
            f"{obj.items_skipped:,} skipped · {obj.items_failed:,} failed"
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
        return format_html(
            "<p>{} of {} shown{}</p><table><thead><tr><th>line</th><th>value</th><th>reason</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            len(errors),
            total,
            self._report_link(obj),
            rows,
        )

    @staticmethod
    def _report_link(obj: OperationProgress) -> str:
        """ "; all in <the first report's download>", if the run attached one."""
        entries = files.run_files(obj.metadata)
        for index, entry in enumerate(entries):
            if entry.get("kind") == files.REPORT:
                url = reverse("progress:file", args=[obj.pk, index])
                return format_html('; all in <a href="{}">{}</a>', url, entry.get("label"))
        return ""

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
        outcome = Outcome()
        for operation in queryset.order_by("pk"):
            outcome.add(operation, self._cancel(request, operation))
        self._report(request, outcome, done="Cancel requested for", undone="cancelled")

    @admin.action(
        description="Mark selected runs stalled (their process died)", permissions=["cancel"]
    )
    def mark_runs_stalled(self, request: HttpRequest, queryset: OperationProgressQuerySet) -> None:
        outcome = Outcome()
        for operation in queryset.order_by("pk"):
            outcome.add(operation, self._mark_stalled(request, operation))
        self._report(request, outcome, done="Marked stalled:", undone="marked stalled")

    @admin.action(
        description="Re-run selected finished runs with the same parameters", permissions=["start"]
    )
    def rerun_runs(
        self, request: HttpRequest, queryset: OperationProgressQuerySet
    ) -> HttpResponse | None:
        """Ask first (like delete_selected), listing the runs and their sizes; then re-run."""
        if request.POST.get("post") != "yes":
            return self._rerun_confirmation(request, queryset)
        outcome = Outcome()
        for operation in queryset.order_by("pk"):
            new, refusal = self._rerun(request, operation)
            outcome.add(operation, refusal)
            if new is not None:
                outcome.note(f"#{operation.pk} as #{new.pk}")
        self._report(request, outcome, done="Re-ran", undone="re-run")
        return None

    def _rerun_confirmation(
        self, request: HttpRequest, queryset: OperationProgressQuerySet
    ) -> TemplateResponse:
        selected = list(queryset.select_related("created_by").order_by("pk"))
        runs = [
            {
                "run": run,
                "description": run_description(run),
                "size": size_text(run),
                "refusal": rerun_refusal(run, user=request.user),
                "url": self._url("change", run.pk),
            }
            for run in selected
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Re-run these runs?",
            "runs": [r for r in runs if not r["refusal"]],
            "refused": [r for r in runs if r["refusal"]],
            "selected": [run.pk for run in selected],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/progress/rerun_confirmation.html", context)

    def _cancel(self, request: HttpRequest, operation: OperationProgress) -> str:
        """Cancel one run; "" when done, else why not."""
        if not operation.is_active:
            return f"already {operation.get_status_display().lower()}"
        if not can_cancel(request.user, operation):
            return "not yours to cancel"
        if not operation_cancel(operation):
            return LATE_CANCEL_TEXT.lower()
        self._log(request, operation, "Requested cancel")
        return ""

    def _mark_stalled(self, request: HttpRequest, operation: OperationProgress) -> str:
        if not operation.is_active:
            return f"already {operation.get_status_display().lower()}"
        if not operation.mark_stalled(reason=f"Marked stalled by {request.user} in the admin."):
            return LATE_CANCEL_TEXT.lower()
        operation_broadcast(operation)
        self._log(request, operation, "Marked stalled")
        return ""

    def _rerun(
        self, request: HttpRequest, operation: OperationProgress
    ) -> tuple[OperationProgress | None, str]:
        """Re-run one run: (the new run, "") or (None, why not)."""
        if operation.is_active:
            return None, f"still {operation.get_status_display().lower()}"
        try:
            new = operation_rerun(operation, user=request.user)
        except (pipelines.UnknownPipeline, ValueError, PermissionDenied) as exc:
            return None, str(exc)
        self._log(request, operation, f"Re-run as run {new.pk}")
        return new, ""

    def _report(self, request: HttpRequest, outcome: Outcome, *, done: str, undone: str) -> None:
        """One message: how many were done, how many not and why; a warning if any were not."""
        level = messages.WARNING if outcome.refused else messages.SUCCESS
        self.message_user(request, outcome.text(done=done, undone=undone), level)

    def _log(self, request: HttpRequest, operation: OperationProgress, message: str) -> None:
        LogEntry.objects.log_actions(
            user_id=cast(int, request.user.pk),
            queryset=[operation],
            action_flag=CHANGE,
            change_message=message,
        )

    # --- a run's own page: cancel, re-run, live page ----------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        operation = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if operation is not None:
            context.update(
                live_url=reverse("progress:detail", args=[operation.pk]),
                cancel_url=self._url("cancel", operation.pk),
                rerun_url=self._url("rerun", operation.pk),
                may_cancel=operation.is_active and can_cancel(request.user, operation),
                cancelling=operation.is_active and operation.cancel_requested_at is not None,
                **self._rerun_offer(request, operation),
            )
        return super().change_view(request, object_id, form_url, context)

    def _rerun_offer(self, request: HttpRequest, operation: OperationProgress) -> dict[str, Any]:
        """may_rerun, or (for a finished run) rerun_refusal: why it cannot be re-run."""
        if operation.is_active or not self.has_start_permission(request):
            return {"may_rerun": False, "rerun_refusal": ""}
        refusal = rerun_refusal(operation, user=request.user)
        return {"may_rerun": not refusal, "rerun_refusal": refusal}

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: cancel this run (its owner, or a user with cancel_any_operation)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        operation = self._run_or_404(request, object_id)
        refusal = self._cancel(request, operation)
        if refusal:
            message = f"Run #{operation.pk} was not cancelled: {refusal}."
            self.message_user(request, message, messages.WARNING)
        else:
            message = f"Cancel requested for run #{operation.pk}."
            self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(self._url("change", operation.pk))

    def rerun_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: start this finished run again with its parameters; go to the new run."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_start_permission(request):
            raise PermissionDenied
        operation = self._run_or_404(request, object_id)
        new, refusal = self._rerun(request, operation)
        if new is None:
            message = f"Run #{operation.pk} was not re-run: {refusal}"
            self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(self._url("change", operation.pk))
        message = f"Run #{operation.pk} re-run as run #{new.pk}."
        self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(self._url("change", new.pk))

    def _run_or_404(self, request: HttpRequest, object_id: str) -> OperationProgress:
        """The run, if the user may see it; someone else's run is a 404, like a missing one."""
        operation = self.get_object(request, object_id)
        if operation is None:
            raise Http404(f"No run {object_id} that you may see.")
        return operation

    @staticmethod
    def _url(view: str, pk: int) -> str:
        return reverse(f"admin:progress_operationprogress_{view}", args=[pk])

    # --- launching -----------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        name = "progress_operationprogress"
        return [
            path("launch/", wrap(self.launch_view), name=f"{name}_launch"),
            path("<path:object_id>/cancel/", wrap(self.cancel_view), name=f"{name}_cancel"),
            path("<path:object_id>/rerun/", wrap(self.rerun_view), name=f"{name}_rerun"),
            *super().get_urls(),
        ]

    def launch_view(self, request: HttpRequest) -> HttpResponse:
        """Pick a pipeline and its parameters; start it and go to the new run."""
        if not self.has_start_permission(request):
            raise PermissionDenied
        posted: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        if request.method == "POST":
            name = request.POST.get("pipeline", "")
            data = form_parameters(request, exclude=frozenset({"pipeline"}))
            try:
                operation = pipeline_start(name=name, data=data, user=request.user)
            except pipelines.UnknownPipeline as exc:
                errors = {"": [str(exc)]}
            except (TooManyStarts, StorageFull) as exc:
                errors = {"": [exc.message]}
            except ValidationError as exc:
                errors = field_errors(exc.detail)
            except APIPermissionDenied as exc:  # a parameter value the user may not use
                errors = {"": [str(exc.detail)]}
            else:
                self._log(request, operation, f"Launched {name}")
                self.message_user(
                    request, f"Started run #{operation.pk} ({name}).", messages.SUCCESS
                )
                return HttpResponseRedirect(self._url("change", operation.pk))
            posted = {"name": name, "values": request.POST, "errors": errors}
            self.message_user(request, "Not started: see the messages below.", messages.ERROR)
        context = {
            **self.admin_site.each_context(request),
            "title": "Launch a pipeline",
            "pipelines": [
                launch_form(p.describe(user=request.user), posted)
                for p in pipelines.available(request.user)
            ],
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/progress/launch.html", context)


class Outcome:
    """What a bulk action did: the runs done, and the ones refused grouped by reason."""

    def __init__(self) -> None:
        self.done: list[int] = []
        self.refused: dict[str, list[int]] = {}
        self.notes: list[str] = []

    def add(self, operation: OperationProgress, refusal: str) -> None:
        if refusal:
            self.refused.setdefault(refusal, []).append(operation.pk)
        else:
            self.done.append(operation.pk)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def text(self, *, done: str, undone: str) -> str:
        """E.g. "Cancel requested for 1 run. 2 were not cancelled: already finished (#4, #5)." """
        count = len(self.done)
        first = ngettext("%(done)s %(count)d run", "%(done)s %(count)d runs", count) % {
            "done": done,
            "count": count,
        }
        if self.notes:
            first += f" ({', '.join(self.notes)})"
        refused = sum(len(ids) for ids in self.refused.values())
        if not refused:
            return f"{first}."
        reasons = "; ".join(
            f"{reason} ({', '.join(f'#{pk}' for pk in ids)})"
            for reason, ids in self.refused.items()
        )
        second = ngettext(
            "%(count)d was not %(undone)s", "%(count)d were not %(undone)s", refused
        ) % {"count": refused, "undone": undone}
        return f"{first}. {second}: {reasons}."


def percent_value(percentage: float | None) -> int | None:
    """The whole percentage a bar shows, rounded down (never 100 before the end), as format.js."""
    if percentage is None:
        return None
    return min(100, max(0, math.floor(percentage)))


def items_text(obj: OperationProgress) -> str:
    """ "918 of 1,513", "918" (total unknown) or "" before the first item, as the live cell."""
    if obj.total_items is not None:
        return f"{obj.current_item:,} of {obj.total_items:,}"
    return f"{obj.current_item:,}" if obj.current_item else ""


def time_html(moment: datetime | None, format: str = "j M Y, H:i:s T") -> str:
    """A time in the server's TIME_ZONE, saying which ("3 Dec 2026, 16:34:05 UTC")."""
    if moment is None:
        return "—"
    local = timezone.localtime(moment)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        local.isoformat(),
        date_format(local, "DATETIME_FORMAT") + date_format(local, " T"),
        date_format(local, format),
    )


def size_text(obj: OperationProgress) -> str:
    """How big a re-run will be: the items the run went through and its uploads' sizes."""
    total = obj.total_items if obj.total_items is not None else obj.current_item
    parts = [f"{total:,} items" if total else "size unknown"]
    for entry in files.run_files(obj.metadata, files.UPLOAD):
        try:
            size = files.storage().size(entry["name"])
        except (OSError, NotImplementedError):
            continue
        parts.append(f"{entry.get('label')}: {filesizeformat(size)}")
    return " · ".join(parts)


def launch_form(pipeline: dict[str, Any], posted: dict[str, Any]) -> dict[str, Any]:
    """A pipeline's start form; for the one just refused, its input and per-field errors."""
    if posted.get("name") != pipeline["name"]:
        return {**pipeline, "errors": [], "open": False}
    errors, values = posted["errors"], posted["values"]
    parameters = [
        {
            **parameter,
            "default": values.get(parameter["name"], parameter.get("default")),
            "errors": errors.get(parameter["name"], []),
        }
        for parameter in pipeline["parameters"]
    ]
    known = {parameter["name"] for parameter in parameters}
    general = [m for field, found in errors.items() if field not in known for m in found]
    return {**pipeline, "parameters": parameters, "errors": general, "open": True}
