"""The curation operations as tracked Django tasks, each registered as a launchable pipeline.

Whichever backend runs them (a thread pool in the server, or db_worker processes on other
machines), they report through the tracker, so browsers see the same live progress.
@tracked_task (progress/tasks.py) gives each fresh database connections, a tracker tied
to the queued run and its registration; CurationConfig.ready() imports this module.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from curation import launch_parameters as params
from curation.gene_files import GeneFile
from curation.gene_import import gene_import
from curation.models import Scope
from curation.pipeline import scope_pipeline
from curation.scoring_run import curations_score
from curation.validation_run import curations_validate
from progress.tasks import tracked_task
from progress.tracker import ProgressTracker


def _scope(name: str | None) -> Scope | None:
    return None if name is None else Scope.objects.get(name=name)


@tracked_task(
    name="curation_pipeline",
    title="Run curation pipeline",
    description="Refresh a scope's genes from its panels; validate, score, summarise.",
    parameters=params.ScopePipelineParameters,
)
def curation_pipeline_task(tracker: ProgressTracker, *, scope: str) -> dict[str, Any]:
    """Refresh, validate, score and summarise a scope."""
    return scope_pipeline(scope=Scope.objects.get(name=scope), tracker=tracker)


@tracked_task(
    name="gene_import",
    title="Import genes",
    description="Import a panel JSON, CSV or TSV gene list into a scope.",
    parameters=params.GeneImportParameters,
    uploads=("file",),
)
def gene_import_task(
    tracker: ProgressTracker, *, file: str, scope: str, format: str = "auto"
) -> dict[str, int]:
    """Import an uploaded gene file (its name in the storage) into a scope."""
    target, _ = Scope.objects.get_or_create(name=scope)
    result = gene_import(path=GeneFile.stored(file), scope=target, tracker=tracker, fmt=format)
    return {"added": result.added, "updated": result.updated, "failed": result.failed}


@tracked_task(
    name="calculate_scores",
    title="Calculate scores",
    description="Score curations from their evidence per ClinGen SOP v11.",
    parameters=params.OptionalScopeParameters,
)
def calculate_scores_task(
    tracker: ProgressTracker, *, scope: str | None = None, as_of: str | None = None
) -> dict[str, int]:
    """Score curations (one scope, or all), as of a past ISO date or today."""
    day = None if as_of is None else date.fromisoformat(as_of)
    return curations_score(scope=_scope(scope), tracker=tracker, as_of=day)


@tracked_task(
    name="validate_schemas",
    title="Validate schemas",
    description="Validate schema definitions and every curation's evidence.",
    parameters=params.OptionalScopeParameters,
)
def validate_schemas_task(tracker: ProgressTracker, *, scope: str | None = None) -> dict[str, int]:
    """Validate schemas and curation evidence (one scope, or all)."""
    return curations_validate(scope=_scope(scope), tracker=tracker)
