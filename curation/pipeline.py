"""The curation pipeline: refresh a scope's genes, validate, score, then summarise.

One tracked run with four weighted stages. Each stage reports into the run through a
StageView, which offsets item positions and keeps the stage's own counters apart: the
run's items_added/updated/failed are the sums over stages, and the tracker keeps each
stage's own counts, duration and status in metadata["stage_results"] (a list in stage order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.utils import timezone

from curation.gene_files import UnparseableFile, count_rows
from curation.gene_import import gene_import
from curation.models import Curation, Scope, source_path
from curation.scoring_run import curations_score
from curation.validation_run import curations_validate
from progress import files, limits
from progress.tracker import ProgressTracker

# (name, weight, unit): each stage counts its own things, so a finished run never adds
# genes to curations in one "N of N".
STAGES = [
    ("import", 2.0, "gene rows"),
    ("validate", 1.0, "curations"),
    ("score", 1.0, "curations"),
    ("summarise", 0.25, "scopes"),
]
COUNTERS = ("items_added", "items_updated", "items_unchanged", "items_skipped", "items_failed")


class NothingToImport(ValueError):
    """The scope names no gene files, so a pipeline run would complete having done nothing."""


def no_sources_message(scope: Scope) -> str:
    return (
        f"Scope {scope.name!r} has no sources, so there is nothing to import; a superuser "
        "adds gene files to its sources in the admin (Curation, Scopes), then run it again; "
        "to import one file, use Import genes instead"
    )


def scope_pipeline(
    *, scope: Scope, tracker: ProgressTracker, pace: float = 0.0, may_change_shared: bool = True
) -> dict[str, Any]:
    """Run the four stages as one tracked operation; returns the scope summary.

    A cancel is checked between stages and sources, and inside each stage per item. A
    scope without sources fails the run (NothingToImport) instead of completing empty.
    may_change_shared: False (a non-staff starter) keeps genes other scopes use as they are.
    """
    if not scope.sources:
        raise NothingToImport(no_sources_message(scope))
    tracker.set_stages(STAGES)

    tracker.start_stage("import", total_items=_count_source_rows(scope))
    imported = {name: 0 for name in COUNTERS}
    for source in scope.sources:
        tracker.raise_if_cancelled()
        view = StageView(tracker, offset=tracker.current_item, label=Path(source).name)
        result = gene_import(
            path=_resolve(source),
            scope=scope,
            tracker=view,
            pace=pace,
            may_change_shared=may_change_shared,
        )
        view.finish()
        for name, value in result.counts().items():
            imported[name] += value
        _add_counts(tracker, **result.counts())

    tracker.raise_if_cancelled()
    tracker.start_stage("validate")
    view = StageView(tracker, label="validate")
    validation = curations_validate(scope=scope, tracker=view, pace=pace)
    view.finish()
    tracker.record_stage_result(**validation)
    _add_counts(tracker, items_failed=validation["invalid"])

    tracker.raise_if_cancelled()
    tracker.start_stage("score")
    view = StageView(tracker, label="score")
    classes = curations_score(scope=scope, tracker=view, pace=pace)
    view.finish()
    _add_counts(tracker, **view.counts)

    tracker.raise_if_cancelled()
    tracker.start_stage("summarise", total_items=1)
    summary = scope_summary(
        scope, validation=validation, classes=classes, imported=imported["items_added"]
    )
    tracker.metadata["summary"] = summary
    tracker.update(current_item=1, force=True)
    return summary


def scope_summary(
    scope: Scope, *, validation: dict[str, int], classes: dict[str, int], imported: int
) -> dict[str, Any]:
    """Counts a curator wants after a run; stored on the scope and the run."""
    curations = Curation.objects.filter(scope=scope)
    summary = {
        "genes": scope.genes.count(),
        "genes_added": imported,
        "curations": curations.count(),
        "invalid_curations": validation["invalid"],
        "classifications": dict(sorted(classes.items())),
        # Contradictory evidence keeps the computed class until an expert panel weighs it.
        "needs_expert_review": curations.filter(score_breakdown__needs_expert_review=True).count(),
        "summarised_at": timezone.now().isoformat(),
    }
    scope.summary = summary
    scope.save(update_fields=["summary"])
    return summary


class StageView:
    """A stage's view of the pipeline's tracker (satisfies progress.tracker.Reporter).

    Item positions are offset into the stage's total; the stage's counters are kept
    here instead of overwriting the run's; its metadata (row errors, reports) is merged
    into the run's when the stage finishes.
    """

    def __init__(self, tracker: ProgressTracker, *, offset: int = 0, label: str) -> None:
        self._tracker = tracker
        self._offset = offset
        self._label = label
        self.id = tracker.id
        self.metadata: dict[str, Any] = {}
        self.counts = dict.fromkeys(COUNTERS, 0)
        self._owns_total = offset == 0 and not tracker.total_items

    def update(
        self,
        current_item: int | None = None,
        *,
        total_items: int | None = None,
        items_added: int | None = None,
        items_updated: int | None = None,
        items_unchanged: int | None = None,
        items_skipped: int | None = None,
        items_failed: int | None = None,
        operation: str | None = None,
        force: bool = False,
    ) -> None:
        values = (items_added, items_updated, items_unchanged, items_skipped, items_failed)
        for name, value in zip(COUNTERS, values, strict=True):
            if value is not None:
                self.counts[name] = value
        if current_item is not None:
            current_item += self._offset
        self._tracker.update(
            current_item,
            total_items=total_items if self._owns_total else None,
            operation=operation,
            force=force,
        )

    def raise_if_cancelled(self) -> None:
        self._tracker.raise_if_cancelled()

    def record_failure(self, *, line: int | str | None, value: Any, reason: str) -> None:
        """Record straight onto the run (so it shows live), labelled with this stage."""
        limits.record_failure(
            self._tracker.metadata, line=line, value=value, reason=reason, source=self._label
        )

    def attach_file(
        self, name: str, content: str | bytes | File[Any], *, kind: str = files.REPORT
    ) -> str:
        """Straight onto the run, so every stage's files are the pipeline's downloads."""
        return self._tracker.attach_file(name, content, kind=kind)

    def finish(self) -> None:
        """Merge the stage's notes into the run's metadata (failures are already there)."""
        for key in ("row_errors", "row_errors_total"):
            self.metadata.pop(key, None)
        for key, value in self.metadata.items():
            if key == files.FILES_KEY:  # every stage's files, so pruning deletes them all
                self._tracker.metadata.setdefault(key, []).extend(value)
                continue
            self._tracker.metadata[key] = value


def _add_counts(tracker: ProgressTracker, **counts: int) -> None:
    """Add a stage's counters (COUNTERS keywords) to the run's."""
    tracker.update(
        **{name: getattr(tracker, name) + counts.get(name, 0) for name in COUNTERS}, force=True
    )


def _count_source_rows(scope: Scope) -> int:
    return sum(count_rows(_resolve(source)) for source in scope.sources)


def _resolve(source: str) -> Path:
    """The source's file, only inside the data folder (checked again here: rows saved
    before the check existed, or edited around it, must not reach other server files)."""
    try:
        return source_path(source)
    except ValidationError as exc:
        raise UnparseableFile(" ".join(exc.messages)) from None
