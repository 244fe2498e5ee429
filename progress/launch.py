"""Starting pipelines: validate, record a queued run, enqueue its task, return at once.

Every surface (REST API, pages, admin, `--enqueue` on commands) starts runs through
pipeline_start(), so they share one permission check, one validation and one failure
path: a request that is refused starts nothing, and a run whose enqueue fails is marked
failed instead of sitting in "queued" forever. Requests call pipeline_for_request() first,
which refuses without reading the body; a re-run goes through the same validation.
"""

from __future__ import annotations

import inspect
import logging
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.exceptions import APIException, Throttled, ValidationError

from progress import conf, files, pipelines
from progress.models import ACTIVE_STATUSES, OperationProgress, Status
from progress.publish.broadcast import operation_broadcast

__all__ = ["flatten", "operation_rerun", "pipeline_start"]

logger = logging.getLogger(__name__)

# Room for a multipart request's boundaries and form fields around the file itself.
MULTIPART_ALLOWANCE = 64 * 1024


# The window of PROGRESS["MAX_STARTS_PER_MINUTE"], in seconds.
START_WINDOW_SECONDS = 60


class TooManyStarts(Throttled):
    """A start over one of the user's limits (429 with Retry-After); says which and what to do."""

    def __init__(self, message: str, *, wait: float) -> None:
        super().__init__(wait=wait, detail=message)
        self.message = message


class StorageFull(APIException):
    """A start whose uploads would pass the owner's stored-bytes quota (413); says what to do."""

    status_code = 413
    default_code = "storage_full"

    def __init__(self, message: str) -> None:
        super().__init__(detail=message)
        self.message = message


class RequestTooLarge(Exception):
    """A start request whose body is over the upload limit; refused before it is read."""


def pipeline_for_request(*, name: str, user: Any, content_length: Any) -> pipelines.Pipeline:
    """The pipeline, once the user may start it and the body's declared size fits.

    Reads nothing but headers, so a refused request costs no upload: call it before the
    body is parsed (including by the CSRF check, which reads form fields).
    """
    pipeline = pipelines.get(name)
    _require_permission(pipeline, user)
    max_upload = conf.get("MAX_UPLOAD_BYTES")
    limit = max_upload + MULTIPART_ALLOWANCE
    try:
        size = int(content_length or 0)
    except ValueError:
        size = 0
    if size > limit:
        raise RequestTooLarge(
            f"The request is {size} bytes; uploads are limited to {max_upload} "
            'bytes (PROGRESS["MAX_UPLOAD_BYTES"]). Split the file into smaller ones.'
        )
    return pipeline


def pipeline_start(*, name: str, data: Any, user: Any, trusted: bool = False) -> OperationProgress:
    """Start a pipeline; raises UnknownPipeline, PermissionDenied (Django's for the pipeline,
    DRF's for a parameter value the user may not use), TooManyStarts (a 429) or a DRF
    ValidationError.

    trusted: started by the server's administrator (a management command); no permission check.
    """
    return _start(name=name, data=data, user=user, trusted=trusted)


def _start(
    *,
    name: str,
    data: Any,
    user: Any,
    trusted: bool = False,
    rerun_of: OperationProgress | None = None,
) -> OperationProgress:
    """pipeline_start(); a re-run belongs to rerun_of's owner and counts against their limits."""
    pipeline = pipelines.get(name)
    owner = user if rerun_of is None else rerun_of.created_by
    if not trusted:
        _require_permission(pipeline, user)
        _require_room_for(owner, starter=user)
        _require_storage_for(owner, data, starter=user)
    _refuse_lone_surrogates(data)
    # Fields whose values are data check them against the user (a scope they may use);
    # trusted: the operator, who may use every value.
    serializer = pipeline.parameters(data=data, context={"user": user, "trusted": trusted})
    serializer.is_valid(raise_exception=True)
    _require_task_accepts(pipeline, serializer.validated_data)
    parameters, stored = _task_arguments(serializer.validated_data)
    return operation_enqueue(
        pipeline,
        parameters=parameters,
        user=owner,
        files=stored,
        rerun_of=rerun_of,
        rerun_by=user if rerun_of is not None else None,
    )


def operation_enqueue(
    pipeline: pipelines.Pipeline,
    *,
    parameters: dict[str, Any],
    user: Any,
    files: list[dict[str, Any]] | None = None,
    rerun_of: OperationProgress | None = None,
    rerun_by: Any = None,
) -> OperationProgress:
    """Create the queued run (user's, or a re-run of rerun_of by rerun_by) and enqueue it."""
    metadata: dict[str, Any] = {"pipeline": pipeline.name, "parameters": parameters}
    if files:
        metadata["files"] = files
    operation = OperationProgress.objects.create(
        operation_name=pipeline.name,
        status=Status.QUEUED,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        metadata=metadata,
        rerun_of=rerun_of,
        rerun_by=rerun_by if getattr(rerun_by, "is_authenticated", False) else None,
    )
    try:
        result = pipeline.task.enqueue(operation.pk, **parameters)
    except Exception as exc:
        logger.exception("Could not enqueue %s", pipeline.name)
        operation.fail_queued(f"Could not enqueue the task: {exc}")
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
    """Start a finished run again with the same parameters, validated as a fresh start is.

    The new run keeps the old run's owner (so it is on their pages) and records user as
    who re-ran it (rerun_by) and the old run as rerun_of. Raises ValueError saying why when
    the stored parameters no longer fit the pipeline or an uploaded file is gone (see
    rerun_refusal()). The new run gets its own copy of the upload, so pruning the old run
    never takes the new run's file.
    """
    pipeline = _rerunnable(operation, user=user)
    data = _stored_data(operation, pipeline)
    try:
        return _start(name=pipeline.name, data=data, user=user, rerun_of=operation)
    except (TooManyStarts, StorageFull) as exc:
        raise ValueError(f"Run {operation.pk} was not re-run: {exc.message}") from None
    except exceptions.PermissionDenied as exc:
        raise ValueError(f"Run {operation.pk} was not re-run: {exc.detail}") from None
    except ValidationError as exc:
        raise ValueError(
            f"Run {operation.pk} cannot be re-run: {flatten(exc.detail)}; "
            f"start {pipeline.name} anew"
        ) from None
    finally:
        for value in data.values():
            if isinstance(value, File):
                value.close()


def rerun_refusal(operation: OperationProgress, *, user: Any) -> str:
    """Why user cannot re-run this run, or "" when a re-run may be tried (its parameters
    are still validated when it starts). Pages and the admin offer re-run only on ""."""
    try:
        _rerunnable(operation, user=user)
    except (pipelines.UnknownPipeline, PermissionDenied, ValueError) as exc:
        return str(exc)
    return ""


def _rerunnable(operation: OperationProgress, *, user: Any) -> pipelines.Pipeline:
    """The run's pipeline, once nothing known rules a re-run out; raises saying why."""
    if operation.is_active:
        raise ValueError(f"Run {operation.pk} is still {operation.status}; cancel it first")
    pipeline = pipelines.get(operation.metadata.get("pipeline") or operation.operation_name)
    _require_permission(pipeline, user)
    _stored_uploads(operation, pipeline)
    _refuse_unknown(operation, pipeline, _stored_parameters(operation, pipeline))
    return pipeline


def form_parameters(request: Any, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A page or admin form's non-empty fields and files, as pipeline_start() data."""
    skip = {"csrfmiddlewaretoken", *exclude}
    data: dict[str, Any] = {k: v for k, v in request.POST.items() if v != "" and k not in skip}
    data.update(request.FILES.items())
    return data


def flatten(detail: object) -> str:
    """A DRF error detail as one line."""
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(flatten(item) for item in detail)
    return str(detail)


def field_errors(detail: object) -> dict[str, list[str]]:
    """A DRF error detail as plain messages per field ("" for the form as a whole)."""
    if not isinstance(detail, dict):
        return {"": [flatten(detail)]} if detail else {}
    errors: dict[str, list[str]] = {}
    for key, value in detail.items():
        field = "" if key in ("non_field_errors", "detail") else str(key)
        items = value if isinstance(value, list) else [value]
        errors.setdefault(field, []).extend(flatten(item) for item in items)
    return errors


def _refuse_lone_surrogates(data: Any) -> None:
    """A 400 naming the field whose text UTF-8 cannot hold, as JSON's "\\ud800" makes it
    (the database refused it: a 500 and a logged traceback)."""
    items = (
        data.lists() if hasattr(data, "lists") else data.items() if isinstance(data, dict) else []
    )
    for key, value in items:
        if problem := _surrogate_at(key):
            raise ValidationError({"non_field_errors": [f"A parameter's name: {problem}"]})
        if problem := _surrogate_at(value):
            raise ValidationError({str(key): [problem]})


def _surrogate_at(value: Any, depth: int = 0) -> str:
    """What is wrong if value (a string, or nested lists and dicts) holds a lone surrogate."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            code = ord(value[exc.start])
            return (
                f"character {exc.start + 1} is a lone UTF-16 surrogate (U+{code:04X}), which is "
                "not text; send the character itself or a complete surrogate pair"
            )
        return ""
    if depth > 100 or not isinstance(value, dict | list | tuple):
        return ""
    children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
    return next((found for child in children if (found := _surrogate_at(child, depth + 1))), "")


def _require_room_for(user: Any, *, starter: Any = None) -> None:
    """Refuse a start over the user's limits, counted in the table (so across processes):
    runs queued or running at once, and starts in the last minute. One user's starts must
    not fill the workers (or, with the embedded backend, the web process) for everyone.
    starter: who asks, when the run will be someone else's (a re-run keeps its owner)."""
    if not getattr(user, "is_authenticated", False):
        return
    who = "You" if starter in (None, user) else user.get_username()
    has = "have" if who == "You" else "has"
    mine = OperationProgress.objects.filter(created_by=user)
    limit = conf.get("MAX_ACTIVE_RUNS_PER_USER")
    active = mine.filter(status__in=ACTIVE_STATUSES).count()
    if active >= limit:
        raise TooManyStarts(
            f"{who} {has} {active} runs queued or running; at most {limit} may run at once "
            '(PROGRESS["MAX_ACTIVE_RUNS_PER_USER"]). Wait for one to finish, or cancel one.',
            wait=START_WINDOW_SECONDS,
        )
    limit = conf.get("MAX_STARTS_PER_MINUTE")
    since = timezone.now() - timedelta(seconds=START_WINDOW_SECONDS)
    recent = mine.filter(created_at__gte=since)
    count = recent.count()
    if count >= limit:
        oldest = recent.order_by("created_at").values_list("created_at", flat=True).first()
        wait = START_WINDOW_SECONDS - (timezone.now() - oldest).total_seconds() if oldest else 1.0
        raise TooManyStarts(
            f"{who} started {count} runs in the last minute; at most {limit} "
            f'(PROGRESS["MAX_STARTS_PER_MINUTE"]). Try again in {max(1, round(wait))} s.',
            wait=max(1.0, wait),
        )


def _require_storage_for(user: Any, data: Any, *, starter: Any = None) -> None:
    """Refuse a start whose uploads would take the owner's stored files past
    MAX_STORED_BYTES_PER_USER: the files of their runs (uploads, reports) until pruned."""
    if not getattr(user, "is_authenticated", False):
        return
    limit = conf.get("MAX_STORED_BYTES_PER_USER")
    incoming = sum(
        value.size for value in getattr(data, "values", dict)() if isinstance(value, File)
    )
    stored = files.stored_bytes(OperationProgress.objects.filter(created_by=user))
    if stored + incoming <= limit:
        return
    who = "Your" if starter in (None, user) else f"{user.get_username()}'s"
    raise StorageFull(
        f"{who} runs' files take {_megabytes(stored)}, and this start adds "
        f"{_megabytes(incoming)}; at most {_megabytes(limit)} may be stored "
        '(PROGRESS["MAX_STORED_BYTES_PER_USER"]). Old runs and their files are pruned after '
        f"{conf.get('RETENTION_DAYS')} days; ask an administrator to prune sooner."
    )


def _megabytes(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB"


def _require_permission(pipeline: pipelines.Pipeline, user: Any) -> None:
    if user is not None and not user.has_perm(pipeline.permission):
        raise PermissionDenied(
            f"You need the {pipeline.permission!r} permission to start {pipeline.name}"
        )


def _require_task_accepts(pipeline: pipelines.Pipeline, parameters: dict[str, Any]) -> None:
    """Refuse parameters the task would crash on, before a run is created for it."""
    try:
        inspect.signature(pipeline.task.func).bind(0, **parameters)
    except TypeError as exc:
        raise ValidationError(
            {
                "non_field_errors": [
                    f"{pipeline.name}'s task does not take these parameters ({exc})"
                    "; its parameters serializer and task disagree, fix the pipeline's registration"
                ]
            }
        ) from None


def _refuse_unknown(
    operation: OperationProgress, pipeline: pipelines.Pipeline, data: dict[str, Any]
) -> None:
    """Stored parameters the pipeline does not take mean the run was not one of its starts."""
    unknown = sorted(set(data) - set(pipeline.parameters().fields))
    if unknown:
        known = ", ".join(pipeline.parameters().fields)
        raise ValueError(
            f"Run {operation.pk} cannot be re-run: {pipeline.name} does not take "
            f"{', '.join(unknown)} (its parameters: {known}); start {pipeline.name} anew"
        )


def _stored_parameters(
    operation: OperationProgress, pipeline: pipelines.Pipeline
) -> dict[str, Any]:
    parameters = operation.metadata.get("parameters")
    if not isinstance(parameters, dict):
        raise ValueError(f"Run {operation.pk} has no stored parameters; start {pipeline.name} anew")
    return dict(parameters)


def _stored_uploads(operation: OperationProgress, pipeline: pipelines.Pipeline) -> dict[str, str]:
    """The storage names of the run's uploads by parameter; ValueError if one is gone."""
    parameters = _stored_parameters(operation, pipeline)
    names: dict[str, str] = {}
    for key in pipeline.uploads:
        name = parameters.get(key)
        if not isinstance(name, str) or not files.is_storage_name(name):
            name = ""
        if not name or not files.storage().exists(name):
            raise ValueError(
                f"Run {operation.pk} cannot be re-run: its uploaded {key} is gone (pruned or "
                f"never stored); start {pipeline.name} anew with the file"
            )
        names[key] = name
    return names


def _stored_data(operation: OperationProgress, pipeline: pipelines.Pipeline) -> dict[str, Any]:
    """The run's stored parameters as start data; uploads are opened from the storage."""
    data = _stored_parameters(operation, pipeline)
    for key, name in _stored_uploads(operation, pipeline).items():
        data[key] = File(files.storage().open(name, "rb"), name=_upload_label(operation, name))
    return data


def _upload_label(operation: OperationProgress, name: str) -> str:
    """The user's name for a stored upload, for format detection and display."""
    for entry in files.run_files(operation.metadata, files.UPLOAD):
        if entry["name"] == name:
            return str(entry.get("label") or name)
    return name


def _task_arguments(validated: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """JSON-able task arguments: uploads are stored and passed by their storage names."""
    arguments: dict[str, Any] = {}
    noted: dict[str, Any] = {}
    for key, value in validated.items():
        if isinstance(value, File):
            name = files.upload_save(value)
            label = value.name or name
            files.record_file(noted, name=name, label=label, kind=files.UPLOAD, size=value.size)
            arguments[key] = name
        else:
            arguments[key] = value
    return arguments, noted.get(files.FILES_KEY, [])
