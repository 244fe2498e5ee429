"""Browser pages: the live list of runs and one run in detail."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from progress.models import OperationProgress
from progress.serializers import operation_data
from progress.snapshots import snapshot_for


@login_required
def operation_list(request: HttpRequest) -> HttpResponse:
    """Active runs first, then recent finished ones; live over the WebSocket."""
    return render(request, "progress/list.html", {"initial": snapshot_for(request.user)})


@login_required
def operation_detail(request: HttpRequest, operation_id: int) -> HttpResponse:
    """One run in detail; 404 for runs the user may not see, so ids cannot be probed."""
    operation = get_object_or_404(
        OperationProgress.objects.visible_to(request.user), pk=operation_id
    )
    return render(
        request,
        "progress/detail.html",
        {"operation": operation, "initial": operation_data(operation)},
    )
