"""A run's history (samples, averages) and what past runs say about a new one (ETA, typical time).

The pure functions come first and are unit tested on their own; the queries at the end
feed them from the table.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db.models import F, Window
from django.db.models.functions import RowNumber

from progress.models import OperationProgress, OperationProgressQuerySet, Status

# Samples stored per run (the whole run, however long, in at most this many points).
MAX_SAMPLES = 300
# Completed runs of the same operation that ETAs and typical durations are drawn from.
RECENT_RUNS = 20
# A run is "much slower than usual" when its rate (items/s) is below its operation's typical
# rate divided by this. Rates, not durations: a 200k-row import is not slow for taking
# longer than 100-row ones (issue 24).
SLOW_FACTOR = 2.0


# --- samples -------------------------------------------------------------------------


@dataclass
class SampleSeries:
    """Every stride-th sample offered, stride doubling whenever limit is reached.

    The kept points stay evenly spread over the whole run; the newest sample is always
    exported last, so a finished run's curve ends at its end.
    """

    limit: int = MAX_SAMPLES
    points: list[list[Any]] = field(default_factory=list)
    stride: int = 1
    offered: int = 0
    last: list[Any] | None = None

    def add(self, point: list[Any]) -> None:
        """Offer one sample [elapsed seconds, current_item, percentage]."""
        self.last = point
        if self.offered % self.stride == 0:
            self.points.append(point)
            if len(self.points) >= self.limit:  # room for the newest point on export
                del self.points[1::2]  # kept indices were multiples of stride: now of 2*stride
                self.stride *= 2
        self.offered += 1

    def export(self) -> list[list[Any]]:
        """The kept points plus the newest, at most limit of them."""
        if self.last is None or (self.points and self.points[-1] is self.last):
            return list(self.points)
        return [*self.points, self.last]


# --- averages and typical durations --------------------------------------------------


def run_items(operation: OperationProgress) -> int:
    """Items a run processed: the sum over its stages when it has them."""
    stages = (operation.metadata or {}).get("stage_results")
    if isinstance(stages, list) and stages:
        return sum(int(s.get("items") or 0) for s in stages if isinstance(s, dict))
    return operation.current_item


def average_rate(items: int, seconds: float | None) -> float | None:
    """Items per second over a whole run, or None for a run without a duration."""
    if not seconds or seconds <= 0:
        return None
    return round(items / seconds, 3)


def typical_duration(durations: Iterable[float]) -> float | None:
    """The median of past durations in seconds, or None without any."""
    values = [d for d in durations if d is not None and d >= 0]
    return round(statistics.median(values), 3) if values else None


def typical_rate(rates: Iterable[float | None]) -> float | None:
    """The median of past runs' average rates (items/s), or None without any."""
    values = [r for r in rates if r is not None and r > 0]
    return round(statistics.median(values), 3) if values else None


def is_much_slower(rate: float | None, typical: float | None, factor: float = SLOW_FACTOR) -> bool:
    """True when a run's rate (items/s) is below its operation's typical rate / factor.

    The same rule as run-list.js usualModel. A run without a rate yet is never called slow.
    """
    return bool(rate is not None and typical and rate * factor < typical)


# --- ETA from past runs --------------------------------------------------------------


class PastRun(NamedTuple):
    """What a completed run tells about the next: its size, items done and duration."""

    total: int | None
    items: int
    seconds: float


def similarity(a: int | None, b: int | None) -> float:
    """Weight in (0, 1] of a past run of size a for a run of size b: 1 when equal, 1/2 at 2x."""
    if not a or not b:
        return 0.25  # unknown sizes say less than a known similar one
    return 1.0 / (1.0 + abs(math.log2(a / b)))


def weighted_median(pairs: Iterable[tuple[float, float]]) -> float | None:
    """The value at which half the total weight lies on each side, or None without weight."""
    ordered = sorted((v, w) for v, w in pairs if w > 0)
    half = sum(w for _, w in ordered) / 2
    running = 0.0
    for value, weight in ordered:
        running += weight
        if running >= half:
            return value
    return None


def history_seconds_remaining(
    past: list[PastRun],
    *,
    total: int | None,
    current: int,
    fraction: float | None,
    elapsed: float,
    staged: bool = False,
) -> float | None:
    """Seconds left by past runs: their median rate (similar sizes weigh more), else duration.

    A run with a known total and no stages divides the items left by the median rate of
    past runs; otherwise the median past duration is scaled by the fraction left (or,
    without a fraction, reduced by the time already spent).
    """
    if not past:
        return None
    if total and not staged:
        rate = weighted_median(
            (p.items / p.seconds, similarity(p.total, total))
            for p in past
            if p.seconds > 0 and p.items > 0
        )
        if rate:
            return max(0.0, (total - current) / rate)
    duration = weighted_median((p.seconds, similarity(p.total, total)) for p in past)
    if duration is None:
        return None
    if fraction is not None:
        return max(0.0, duration * (1.0 - fraction))
    return max(0.0, duration - elapsed)


# --- queries -------------------------------------------------------------------------


def _completed(queryset: OperationProgressQuerySet | None = None) -> OperationProgressQuerySet:
    runs = OperationProgress.objects.all() if queryset is None else queryset
    return runs.filter(
        status=Status.COMPLETED, started_at__isnull=False, completed_at__isnull=False
    )


def past_runs(operation_name: str, *, exclude_id: int | None = None) -> list[PastRun]:
    """The RECENT_RUNS newest completed runs of an operation, for the history ETA."""
    rows = _completed().filter(operation_name=operation_name)
    if exclude_id is not None:
        rows = rows.exclude(pk=exclude_id)
    rows = rows.order_by("-completed_at")[:RECENT_RUNS]
    return [
        PastRun(
            run.total_items,
            run_items(run),
            (run.completed_at - run.started_at).total_seconds(),  # type: ignore[operator]
        )
        for run in rows.only(
            "total_items", "current_item", "metadata", "started_at", "completed_at"
        )
    ]


def _recent_completed(queryset: OperationProgressQuerySet | None) -> Any:
    """Each operation's RECENT_RUNS newest completed runs (one window query)."""
    return (
        _completed(queryset)
        .annotate(
            recent=Window(
                RowNumber(), partition_by=[F("operation_name")], order_by=F("completed_at").desc()
            )
        )
        .filter(recent__lte=RECENT_RUNS)
    )


def typical_durations(queryset: OperationProgressQuerySet | None = None) -> dict[str, float]:
    """Each operation's median duration in seconds over its RECENT_RUNS newest completed runs."""
    ranked = _recent_completed(queryset)
    durations: dict[str, list[float]] = {}
    for name, started, completed in ranked.values_list(
        "operation_name", "started_at", "completed_at"
    ):
        if started is not None and completed is not None:
            durations.setdefault(name, []).append((completed - started).total_seconds())
    return {name: typical_duration(values) or 0.0 for name, values in sorted(durations.items())}


def typical_rates(queryset: OperationProgressQuerySet | None = None) -> dict[str, float]:
    """Each operation's median average rate (items/s) over its RECENT_RUNS newest completed runs."""
    ranked = _recent_completed(queryset).only(
        "operation_name", "current_item", "metadata", "started_at", "completed_at"
    )
    rates: dict[str, list[float | None]] = {}
    for run in ranked:
        seconds = (run.completed_at - run.started_at).total_seconds()
        rates.setdefault(run.operation_name, []).append(average_rate(run_items(run), seconds))
    typical = {name: typical_rate(values) for name, values in sorted(rates.items())}
    return {name: rate for name, rate in typical.items() if rate is not None}


def run_history(operation: OperationProgress) -> dict[str, Any]:
    """A run's whole history for its page: samples, stages, averages and how usual it is."""
    duration = operation.duration
    seconds = None if duration is None else round(duration.total_seconds(), 3)
    items = run_items(operation)
    past = past_runs(operation.operation_name, exclude_id=operation.pk)
    typical = typical_duration(p.seconds for p in past)
    usual_rate = typical_rate(average_rate(p.items, p.seconds) for p in past)
    rate = average_rate(items, seconds)
    return {
        "id": operation.pk,
        "operation_name": operation.operation_name,
        "status": operation.status,
        "samples": operation.samples or [],
        "duration_seconds": seconds,
        "items": items,
        "average_rate": rate,
        "eta_source": (operation.metadata or {}).get("eta_source"),
        "typical_duration_seconds": typical,
        "typical_rate": usual_rate,
        "slower_than_usual": is_much_slower(rate, usual_rate),
        "stage_results": (operation.metadata or {}).get("stage_results") or [],
    }
