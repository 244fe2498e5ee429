"""The demo project's own pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from progress import files
from progress.models import OperationProgress
from progress.serializers import operation_data

# Runs shown before the socket opens: active first, then the newest finished.
INITIAL_RUNS = 50


@login_required
def runs_in_vue(request: HttpRequest) -> HttpResponse:
    """Every visible run as a Vue <ProgressBar>, live: a host's page built on the app's
    Pinia store and component (docs/vue.md)."""
    runs = OperationProgress.objects.visible_to(request.user).order_by("-pk")[:INITIAL_RUNS]
    return render(
        request,
        "demo/vue.html",
        {
            "initial": [operation_data(run) for run in runs],
            "descriptions": {run.pk: run_inputs(run) for run in runs},
        },
    )


def run_inputs(run: OperationProgress) -> str:
    """What a run read and where to: "big.csv → kidney-genetics", from its files and scope."""
    labels = [
        str(entry.get("label") or "") for entry in files.run_files(run.metadata, files.UPLOAD)
    ]
    parameters = run.metadata.get("parameters") if isinstance(run.metadata, dict) else None
    scope = parameters.get("scope") if isinstance(parameters, dict) else None
    parts = [", ".join(label for label in labels if label), str(scope or "")]
    return " → ".join(part for part in parts if part)
