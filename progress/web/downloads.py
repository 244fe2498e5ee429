"""Downloads of the files a run owns (metadata["files"]: uploads, reports), for users who may
see the run. Files are read from PROGRESS["STORAGE"] by their recorded storage names, never
by a path from the request; someone else's run, or a file that is gone, is a plain 404.

    /progress/<id>/files/<index>/   the run's index-th file (0-based, as the API lists them)
    /progress/<id>/report/          its first report (?n=2 for the second)
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import SuspiciousFileOperation
from django.http import FileResponse, Http404, HttpRequest
from django.shortcuts import get_object_or_404

from progress import files
from progress.models import OperationProgress

# A run's own reports are served as their true (inert) type; every other file, uploads
# above all, as bytes: a user's evil.html or .svg must never render in the site's origin.
REPORT_TYPES = {".csv": "text/csv; charset=utf-8", ".txt": "text/plain; charset=utf-8"}
OPAQUE = "application/octet-stream"
# Characters a download's file name may not hold: path separators and controls.
UNSAFE = dict.fromkeys(map(ord, "/\\\x00"), "_") | {c: None for c in range(1, 32)}


@login_required
def run_file(request: HttpRequest, operation_id: int, index: int) -> FileResponse:
    """The run's index-th file, as an attachment named after its label."""
    operation = _visible(request, operation_id)
    entries = files.run_files(operation.metadata)
    if not 0 <= index < len(entries):
        raise Http404("This run has no such file")
    return _attachment(entries[index])


@login_required
def run_report(request: HttpRequest, operation_id: int) -> FileResponse:
    """The run's first report file (?n=2 for its second)."""
    reports = files.run_files(_visible(request, operation_id).metadata, files.REPORT)
    number = request.GET.get("n", "1")
    index = int(number) - 1 if number.isascii() and number.isdecimal() and len(number) < 4 else -1
    if not 0 <= index < len(reports):
        raise Http404("This run has no report file")
    return _attachment(reports[index])


def download_name(entry: dict[str, Any]) -> str:
    """The entry's label as a file name, ending in the stored file's extension."""
    stored = PurePosixPath(entry["name"])
    label = str(entry.get("label") or stored.name).translate(UNSAFE).strip() or stored.name
    return label if label.lower().endswith(stored.suffix.lower()) else label + stored.suffix


def _visible(request: HttpRequest, operation_id: int) -> OperationProgress:
    return get_object_or_404(OperationProgress.objects.visible_to(request.user), pk=operation_id)


def _attachment(entry: dict[str, Any]) -> FileResponse:
    try:
        handle = files.file_open(entry["name"])
    except (FileNotFoundError, SuspiciousFileOperation):
        raise Http404("This run's file is gone (pruned or deleted)") from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=download_name(entry),
        content_type=content_type(entry),
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


def content_type(entry: dict[str, Any]) -> str:
    """text/csv (or text/plain) for a run's own report, bytes for anything else."""
    suffix = PurePosixPath(entry["name"]).suffix.lower()
    if entry.get("kind") == files.REPORT and suffix in REPORT_TYPES:
        return REPORT_TYPES[suffix]
    return OPAQUE
