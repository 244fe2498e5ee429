"""Browser pages: the live list of runs, one run in detail, and the forms that act on runs."""

from __future__ import annotations

from pathlib import PurePosixPath

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseRedirect,
)
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from progress import files, pipelines
from progress.launch import (
    RequestTooLarge,
    flatten,
    form_parameters,
    pipeline_for_request,
    pipeline_start,
)
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
    """The run's row-error report (?n=2 for its second), for runs the user may see."""
    operation = get_object_or_404(
        OperationProgress.objects.visible_to(request.user), pk=operation_id
    )
    # Only report files the run recorded, by storage name: never a server path.
    reports = files.run_files(operation.metadata, files.REPORT)
    number = request.GET.get("n", "1")
    index = int(number) - 1 if number.isascii() and number.isdecimal() and len(number) < 4 else -1
    if not 0 <= index < len(reports):
        raise Http404("This run has no report file")
    name = reports[index]["name"]
    try:
        handle = default_storage.open(name, "rb")
    except (FileNotFoundError, SuspiciousFileOperation):
        raise Http404("This run's report file is gone (pruned or deleted)") from None
    return FileResponse(handle, as_attachment=True, filename=PurePosixPath(name).name)


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


@csrf_exempt  # checked below, once permission and size are: the check reads the body
@require_POST
@login_required
def pipeline_start_view(request: HttpRequest, name: str) -> HttpResponse:
    """Start a pipeline from a page form; errors come back as messages on the list."""
    try:
        pipeline_for_request(
            name=name, user=request.user, content_length=request.META.get("CONTENT_LENGTH")
        )
    except PermissionDenied as exc:
        # Returned, not raised: Django's 403 handler runs a CSRF check that reads the body.
        return HttpResponseForbidden(str(exc))
    except (pipelines.UnknownPipeline, RequestTooLarge) as exc:
        messages.error(request, f"Not started: {exc}")
        return HttpResponseRedirect(reverse("progress:list"))
    try:
        refused = CsrfViewMiddleware(_no_response).process_view(request, _no_response, (), {})
        if refused is not None:
            return refused
        operation = pipeline_start(name=name, data=form_parameters(request), user=request.user)
    except ValidationError as exc:
        messages.error(request, f"Not started: {flatten(exc.detail)}")
    else:
        return HttpResponseRedirect(reverse("progress:detail", args=[operation.pk]))
    return HttpResponseRedirect(reverse("progress:list"))


def _no_response(request: HttpRequest) -> HttpResponse:
    raise AssertionError("CsrfViewMiddleware.process_view never calls get_response")
