"""Starting pipelines: validate, record a queued run, enqueue its task, return at once.

Every surface (REST API, pages, admin, `--enqueue` on commands) starts runs through
pipeline_start(), so they share one permission check, one validation and one failure
path: a request that is refused starts nothing, and a run whose enqueue fails is marked
failed instead of sitting in "queued" forever.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

from progress import pipelines
from progress.models import OperationProgress, Status
from progress.services import operation_broadcast

logger = logging.getLogger(__name__)


def pipeline_start(*, name: str, data: Any, user: Any) -> OperationProgress:
    """Start a pipeline; raises UnknownPipeline, PermissionDenied or a DRF ValidationError."""
    pipeline = pipelines.get(name)
    if user is not None and not user.has_perm(pipeline.permission):
        raise PermissionDenied(f"You need the {pipeline.permission!r} permission to start {name}")
    serializer = pipeline.parameters(data=data)
    serializer.is_valid(raise_exception=True)
    parameters = _task_arguments(serializer.validated_data, pipeline)
    return operation_enqueue(pipeline, parameters=parameters, user=user)


def operation_enqueue(
    pipeline: pipelines.Pipeline, *, parameters: dict[str, Any], user: Any
) -> OperationProgress:
    """Create the queued run and hand it to the task backend."""
    operation = OperationProgress.objects.create(
        operation_name=pipeline.name,
        status=Status.QUEUED,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        metadata={"pipeline": pipeline.name, "parameters": parameters},
    )
    try:
        result = pipeline.task.enqueue(operation.pk, **parameters)
    except Exception as exc:
        logger.exception("Could not enqueue %s", pipeline.name)
        OperationProgress.objects.filter(pk=operation.pk, status=Status.QUEUED).update(
            status=Status.FAILED,
            error_message=f"Could not enqueue the task: {exc}",
            completed_at=timezone.now(),
            updated_at=timezone.now(),
            seq=operation.seq + 1,
        )
        operation.refresh_from_db()
        operation_broadcast(operation)
        raise
    operation.task_result_id = str(result.id)
    OperationProgress.objects.filter(pk=operation.pk).update(
        task_result_id=operation.task_result_id
    )
    # The run as queued (seq 0). A fast worker may already have started it; its states have
    # higher seqs, so clients that saw them ignore this one.
    operation_broadcast(operation)
    return operation


def operation_rerun(operation: OperationProgress, *, user: Any) -> OperationProgress:
    """Start a finished run again with the same parameters."""
    if operation.is_active:
        raise ValueError(f"Run {operation.pk} is still {operation.status}; cancel it first")
    name = operation.metadata.get("pipeline") or operation.operation_name
    pipeline = pipelines.get(name)
    if user is not None and not user.has_perm(pipeline.permission):
        raise PermissionDenied(f"You need the {pipeline.permission!r} permission to start {name}")
    parameters = operation.metadata.get("parameters") or {}
    return operation_enqueue(pipeline, parameters=parameters, user=user)


def form_parameters(request: Any, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A page or admin form's non-empty fields and files, as pipeline_start() data."""
    skip = {"csrfmiddlewaretoken", *exclude}
    data: dict[str, Any] = {k: v for k, v in request.POST.items() if v != "" and k not in skip}
    data.update(request.FILES.items())
    return data


def _task_arguments(validated: dict[str, Any], pipeline: pipelines.Pipeline) -> dict[str, Any]:
    """JSON-able task arguments: uploads are saved to UPLOAD_DIR and passed as paths."""
    arguments = {}
    for key, value in validated.items():
        arguments[key] = str(upload_save(value)) if isinstance(value, UploadedFile) else value
    return arguments


def upload_save(upload: UploadedFile) -> Path:
    """Store an upload under UPLOAD_DIR with a unique name; returns its path."""
    directory = Path(settings.UPLOAD_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    safe_name = "".join(c for c in Path(upload.name or "upload").name if c.isalnum() or c in "._-")
    path = directory / f"{uuid.uuid4().hex}-{safe_name or 'upload'}"
    with path.open("wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    return path
