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
from curation.scope_access import ScopeNotPermitted, may_use_every_scope, require_usable
from curation.scoring_run import curations_score
from curation.validation_run import curations_validate
from progress.models import OperationProgress
from progress.tasks import tracked_task
from progress.tracker import ProgressTracker


def _starter(tracker: ProgressTracker) -> Any:
    """Who started the run; None for the operator (a command, or code with no user)."""
    run = OperationProgress.objects.select_related("created_by").filter(pk=tracker.id).first()
    return None if run is None else run.created_by


def _usable(scope: Scope, tracker: ProgressTracker) -> Scope:
    """scope, once the run's starter may use it: checked again when the task runs, since a
    scope's owner may have changed (or a new name been taken) after the start was accepted."""
    starter = _starter(tracker)
    if starter is not None:
        require_usable(starter, scope)
    return scope


def _may_change_shared(starter: Any) -> bool:
    """Genes other scopes use change only for staff, use_any_scope, or the operator."""
    return starter is None or may_use_every_scope(starter)


def _scope(name: str | None, tracker: ProgressTracker) -> Scope | None:
    """One scope the starter may use, or None (every scope) for staff and the operator."""
    if name is not None:
        return _usable(Scope.objects.get(name=name), tracker)
    starter = _starter(tracker)
    if starter is not None and not may_use_every_scope(starter):
        raise ScopeNotPermitted("Only staff may run this over every scope; choose a scope.")
    return None


@tracked_task(
    name="curation_pipeline",
    title="Run curation pipeline",
    description="Refresh a scope's genes from its panels; validate, score, summarise.",
    parameters=params.ScopePipelineParameters,
)
def curation_pipeline_task(tracker: ProgressTracker, *, scope: str) -> dict[str, Any]:
    """Refresh, validate, score and summarise a scope."""
    starter = _starter(tracker)
    return scope_pipeline(
        scope=_usable(Scope.objects.get(name=scope), tracker),
        tracker=tracker,
        may_change_shared=_may_change_shared(starter),
    )


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
    starter = _starter(tracker)
    # A new scope is its starter's; the operator's (no starter) is shared.
    target, _ = Scope.objects.get_or_create(name=scope, defaults={"owner": starter})
    result = gene_import(
        path=GeneFile.stored(file),
        scope=_usable(target, tracker),
        tracker=tracker,
        fmt=format,
        may_change_shared=_may_change_shared(starter),
    )
    return {
        "added": result.added,
        "updated": result.updated,
        "failed": result.failed,
        "shared_kept": result.shared_kept,
    }


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
    return curations_score(scope=_scope(scope, tracker), tracker=tracker, as_of=day)


@tracked_task(
    name="validate_schemas",
    title="Validate schemas",
    description="Validate schema definitions and every curation's evidence.",
    parameters=params.OptionalScopeParameters,
)
def validate_schemas_task(tracker: ProgressTracker, *, scope: str | None = None) -> dict[str, int]:
    """Validate schemas and curation evidence (one scope, or all)."""
    return curations_validate(scope=_scope(scope, tracker), tracker=tracker)
