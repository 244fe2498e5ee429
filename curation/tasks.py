"""The curation operations as Django tasks: each one runs a queued OperationProgress.

Whichever backend runs them (a thread pool in the server, or db_worker processes on other
machines), they report through the tracker, so browsers see the same live progress.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Any

from django.db import close_old_connections
from django.tasks import task

from curation.gene_files import GeneFile
from curation.gene_import import gene_import
from curation.models import Scope
from curation.pipeline import scope_pipeline
from curation.scoring_run import curations_score
from curation.validation_run import curations_validate
from progress.tracker import track_operation


def fresh_connections[**P, R](function: Callable[P, R]) -> Callable[P, R]:
    """Close stale connections around a task, as Django does around a request: pool
    threads and workers live long and never see request_finished."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        close_old_connections()
        try:
            return function(*args, **kwargs)
        finally:
            close_old_connections()

    return wrapper


def _scope(name: str | None) -> Scope | None:
    return None if name is None else Scope.objects.get(name=name)


@task
@fresh_connections
def curation_pipeline_task(operation_id: int, *, scope: str) -> dict[str, Any]:
    """Refresh, validate, score and summarise a scope."""
    with track_operation("curation_pipeline", operation_id=operation_id) as tracker:
        return scope_pipeline(scope=Scope.objects.get(name=scope), tracker=tracker)


@task
@fresh_connections
def gene_import_task(operation_id: int, *, file: str, scope: str, format: str = "auto") -> dict:
    """Import an uploaded gene file (its name in the default storage) into a scope."""
    target, _ = Scope.objects.get_or_create(name=scope)
    with track_operation("gene_import", operation_id=operation_id) as tracker:
        source = GeneFile.stored(file)
        result = gene_import(path=source, scope=target, tracker=tracker, fmt=format)
    return {"added": result.added, "updated": result.updated, "failed": result.failed}


@task
@fresh_connections
def calculate_scores_task(
    operation_id: int, *, scope: str | None = None, as_of: str | None = None
) -> dict[str, int]:
    """Score curations (one scope, or all), as of a past ISO date or today."""
    day = None if as_of is None else date.fromisoformat(as_of)
    with track_operation("calculate_scores", operation_id=operation_id) as tracker:
        return curations_score(scope=_scope(scope), tracker=tracker, as_of=day)


@task
@fresh_connections
def validate_schemas_task(operation_id: int, *, scope: str | None = None) -> dict[str, int]:
    """Validate schemas and curation evidence (one scope, or all)."""
    with track_operation("validate_schemas", operation_id=operation_id) as tracker:
        return curations_validate(scope=_scope(scope), tracker=tracker)
