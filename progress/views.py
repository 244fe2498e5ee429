"""Browser pages: the live list of runs, one run in detail, and the forms that act on runs."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from progress import pipelines
from progress.launch import form_parameters, pipeline_start
from progress.models import OperationProgress, Status
from progress.permissions import can_cancel
from progress.serializers import operation_data
from progress.services import operation_cancel
from progress.snapshots import snapshot_for

START_URL_TEMPLATE = "/progress/pipelines/NAME/start/"


@login_required
def operation_list(request: HttpRequest) -> HttpResponse:
    """Active runs first, then recent finished ones; live over the WebSocket."""
    return render(
        request,
        "progress/list.html",
        {
            "initial": snapshot_for(request.user),
            "pipelines": [p.describe() for p in pipelines.available(request.user)],
            "start_url_template": START_URL_TEMPLATE,
            "filters": {
                "status": request.GET.get("status", ""),
                "name": request.GET.get("name", ""),
            },
            "statuses": Status.choices,
        },
    )


@login_required
def operation_list_vue(request: HttpRequest) -> HttpResponse:
    """The same runs through the Vue 3 + Pinia bundle (docs/vue.md)."""
    return render(request, "progress/vue.html", {"initial": snapshot_for(request.user)})


@login_required
def operation_detail(request: HttpRequest, operation_id: int) -> HttpResponse:
    """One run in detail; 404 for runs the user may not see, so ids cannot be probed."""
    operation = get_object_or_404(
        OperationProgress.objects.visible_to(request.user), pk=operation_id
    )
    return render(
        request,
        "progress/detail.html",
        {
            "operation": operation,
            "initial": operation_data(operation),
            "can_cancel": can_cancel(request.user, operation) and operation.is_active,
            "cancel_url": reverse("progress:cancel", args=[operation.pk]),
        },
    )


@login_required
def operation_report(request: HttpRequest, operation_id: int) -> FileResponse:
    """The run's full row-error report (CSV), for runs the user may see."""
    operation = get_object_or_404(
        OperationProgress.objects.visible_to(request.user), pk=operation_id
    )
    reports = (Path(settings.BASE_DIR) / "var" / "reports").resolve()
    path = Path(str(operation.metadata.get("report_path", ""))).resolve()
    # Only files the importer wrote: metadata is data, never a path to trust blindly.
    if not path.is_relative_to(reports) or not path.is_file():
        raise Http404("This run has no report file")
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)


@require_POST
@login_required
def operation_cancel_view(request: HttpRequest, operation_id: int) -> HttpResponse:
    """Cancel from the detail page (CSRF-protected POST)."""
    operation = get_object_or_404(
        OperationProgress.objects.visible_to(request.user), pk=operation_id
    )
    if not can_cancel(request.user, operation):
        raise PermissionDenied("Only the run's owner can cancel it")
    if operation_cancel(operation):
        messages.success(request, f"Cancel requested for run {operation.pk}.")
    else:
        messages.info(request, f"Run {operation.pk} had already finished ({operation.status}).")
    return HttpResponseRedirect(reverse("progress:detail", args=[operation.pk]))


@require_POST
@login_required
def pipeline_start_view(request: HttpRequest, name: str) -> HttpResponse:
    """Start a pipeline from a page form; errors come back as messages on the list."""
    try:
        operation = pipeline_start(name=name, data=form_parameters(request), user=request.user)
    except pipelines.UnknownPipeline as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        messages.error(request, f"Not started: {_flatten(exc.detail)}")
    else:
        return HttpResponseRedirect(reverse("progress:detail", args=[operation.pk]))
    return HttpResponseRedirect(reverse("progress:list"))


def _flatten(detail: object) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    return str(detail)
