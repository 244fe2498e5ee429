"""The fields of a run a tracker changes: one list for the tracker, its handle and the writer.

RunState is that list. Its dataclass fields are the tracker's live state (slots), the
columns every tracker write sets (row_fields) and, where marked COUNTER, what a trailing
publish compares (counters). A new column the tracker owns is added here once.
"""

from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from progress.models import OperationProgress, Status

# Marks a field whose change alone is worth a trailing publish (the numbers a bar shows).
COUNTER = {"counter": True}
# Fields a run never changes while it runs; the writer serialises a state with them.
FIXED_FIELDS = ("operation_name", "created_by_id", "created_at")
MAX_OPERATION_TEXT = 255


@dataclass(slots=True)
class RunState:
    """The columns of OperationProgress that a run's tracker changes, as the tracker holds them."""

    status: str
    current_operation: str = field(default="", metadata=COUNTER)
    current_item: int = field(default=0, metadata=COUNTER)
    total_items: int | None = field(default=None, metadata=COUNTER)
    items_added: int = field(default=0, metadata=COUNTER)
    items_updated: int = field(default=0, metadata=COUNTER)
    items_unchanged: int = field(default=0, metadata=COUNTER)
    items_skipped: int = field(default=0, metadata=COUNTER)
    items_failed: int = field(default=0, metadata=COUNTER)
    error_message: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    rate: float | None = None
    estimated_completion: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    seq: int = 0

    @classmethod
    def of(cls, operation: OperationProgress) -> RunState:
        """The state as the row holds it (metadata copied, so the row is never changed)."""
        values = {name: getattr(operation, name) for name in STATE_FIELDS}
        values["metadata"] = dict(operation.metadata or {})
        return cls(**values)

    def counters(self) -> tuple[Any, ...]:
        """The counter fields' values, to tell whether anything a bar shows has changed."""
        return _counter_values(self)

    def row_fields(
        self, *, percentage: float | None, metadata: dict[str, Any], samples: list[Any]
    ) -> dict[str, Any]:
        """Every column a tracker write sets, from this state and what is derived from it."""
        values = dict(zip(STATE_FIELDS, _state_values(self), strict=True))
        values.update(
            current_operation=self.current_operation[:MAX_OPERATION_TEXT],
            rate=None if self.rate is None else round(self.rate, 3),
            metadata=metadata,
            progress_percentage=percentage,
            samples=samples,
            updated_at=timezone.now(),
        )
        return values


STATE_FIELDS = tuple(f.name for f in dataclasses.fields(RunState))
COUNTER_FIELDS = tuple(f.name for f in dataclasses.fields(RunState) if f.metadata.get("counter"))
# Read all of them in one C call: a state is built on every publish (bench figure 2).
_state_values = operator.attrgetter(*STATE_FIELDS)
_counter_values = operator.attrgetter(*COUNTER_FIELDS)


def fixed_fields(operation: OperationProgress) -> dict[str, Any]:
    """The run's fields that never change while it runs, with its primary key."""
    return {"pk": operation.pk, **{name: getattr(operation, name) for name in FIXED_FIELDS}}


def overall_fraction(
    status: str,
    *,
    current_item: int,
    total_items: int | None,
    stage_weights: list[float],
    stage: dict[str, Any] | None,
) -> float | None:
    """Overall completion in [0, 1], stage-weighted when stages are declared."""
    if status == Status.COMPLETED:
        return 1.0
    within = None
    if total_items:
        within = min(current_item / total_items, 1.0)
    elif total_items == 0:
        within = 1.0
    if not stage_weights:
        return within
    if stage is None:
        return 0.0
    done = sum(stage_weights[: stage["index"] - 1])
    return (done + stage_weights[stage["index"] - 1] * (within or 0.0)) / sum(stage_weights)


def percentage(fraction: float | None) -> float | None:
    """A fraction as the stored percentage (two decimals), None while indeterminate."""
    return None if fraction is None else round(100 * fraction, 2)
