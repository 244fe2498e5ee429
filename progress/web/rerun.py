"""Who is offered 'Run again with the same file' on the run page (issue 24): the run's owner,
while the storage still holds the upload it read (pages.operation_rerun_view starts it)."""

from __future__ import annotations

from typing import Any

from progress import files, pipelines
from progress.models import OperationProgress


def may_rerun_with_file(user: Any, operation: OperationProgress) -> bool:
    """The run's owner, allowed to start its pipeline, while the run's uploads are stored."""
    if not getattr(user, "is_authenticated", False) or operation.created_by_id != user.pk:
        return False
    try:
        pipeline = pipelines.get(operation.metadata.get("pipeline") or operation.operation_name)
    except pipelines.UnknownPipeline:
        return False
    return bool(user.has_perm(pipeline.permission)) and _uploads_stored(operation, pipeline)


def _uploads_stored(operation: OperationProgress, pipeline: pipelines.Pipeline) -> bool:
    """True when the pipeline takes uploads and each one the run read is still in storage."""
    parameters = operation.metadata.get("parameters")
    if not pipeline.uploads or not isinstance(parameters, dict):
        return False
    names = [parameters.get(key) for key in pipeline.uploads]
    return all(
        isinstance(n, str) and files.is_storage_name(n) and files.storage().exists(n) for n in names
    )
