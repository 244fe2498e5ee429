"""ProgressTracker: the API a long operation uses to report progress.

    from progress.tracker import track_operation

    with track_operation("gene_import", total_items=len(rows), user=request.user) as tracker:
        for i, row in enumerate(rows, 1):
            import_row(row)
            tracker.update(current_item=i)

``update()`` is cheap enough to call for every item: it only records numbers until
BROADCAST_INTERVAL has passed, then hands a snapshot to the process's writer thread,
which saves it (at most once per DB_INTERVAL, on its own connection) and broadcasts it.
Start, completion, failure, cancellation and ``force=True`` are written at once, and the
final ones are waited for, so a process that exits right after never loses its end state.
It works the same from sync code, threads, async code, commands and task workers: no
call depends on a running event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import traceback
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import Future
from datetime import datetime, timedelta
from time import monotonic
from typing import Any, Protocol

from django.utils import timezone

from progress import conf, history, limits, logcapture
from progress.estimator import RateEstimator
from progress.models import ACTIVE_STATUSES, OperationProgress, Status, check_transition
from progress.writer import WriteJob, get_writer

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 4000
MAX_STRIDE = 1000
MAX_TRACEBACK_LENGTH = 20_000
# A stage's status in metadata["stage_results"] when the run ends while it runs.
STAGE_END_STATUS: dict[str, str] = {
    Status.COMPLETED: "completed",
    Status.FAILED: "failed",
    Status.CANCELLED: "cancelled",
}


class Reporter(Protocol):
    """What an operation needs from a tracker; lets a pipeline hand a stage a narrower view."""

    id: int
    metadata: dict[str, Any]

    def update(
        self,
        current_item: int | None = None,
        *,
        total_items: int | None = None,
        items_added: int | None = None,
        items_updated: int | None = None,
        items_failed: int | None = None,
        operation: str | None = None,
        force: bool = False,
    ) -> None: ...

    def raise_if_cancelled(self) -> None: ...

    def record_failure(self, *, line: int | str | None, value: Any, reason: str) -> None: ...


class OperationCancelled(Exception):
    """Raised at an item boundary when someone asked the run to stop."""


class ProgressTracker:
    """Tracks one run (one OperationProgress row). Create with create() or for_operation()."""

    # Slots make update()'s attribute writes cheaper; __weakref__ is for the writer's registry.
    __slots__ = (
        "__weakref__",
        "_broadcast_interval",
        "_countdown",
        "_created_at",
        "_estimator",
        "_finished_externally",
        "_flush_lock",
        "_last_clock",
        "_next_submit",
        "_past",
        "_published",
        "_samples",
        "_stage_base",
        "_stage_clock",
        "_stage_weights",
        "_started_clock",
        "_stride",
        "_task_result_id",
        "cancel_requested",
        "completed_at",
        "created_by_id",
        "current_item",
        "current_operation",
        "error_message",
        "estimated_completion",
        "id",
        "items_added",
        "items_failed",
        "items_updated",
        "metadata",
        "operation_name",
        "rate",
        "run_log",
        "seq",
        "started_at",
        "status",
        "total_items",
    )

    def __init__(self, operation: OperationProgress) -> None:
        self.id: int = operation.pk
        self.operation_name = operation.operation_name
        self.created_by_id: int | None = operation.created_by_id
        self._created_at = operation.created_at
        self._task_result_id = operation.task_result_id
        self.status: str = operation.status
        self.current_operation = operation.current_operation
        self.current_item = operation.current_item
        self.total_items = operation.total_items
        self.items_added = operation.items_added
        self.items_updated = operation.items_updated
        self.items_failed = operation.items_failed
        self.error_message = operation.error_message
        self.metadata: dict[str, Any] = dict(operation.metadata or {})
        self.started_at = operation.started_at
        self.completed_at = operation.completed_at
        self.seq = operation.seq
        self.cancel_requested = operation.cancel_requested_at is not None
        self._finished_externally = False
        self._broadcast_interval = conf.get("BROADCAST_INTERVAL")
        # When the next throttled update may be published (monotonic seconds).
        self._next_submit = 0.0
        # update() reads the clock every _stride calls (tqdm's miniters idea), see _tick().
        self._stride = self._countdown = 1
        self._last_clock = monotonic()
        # The writer thread may publish a trailing state too (publish_trailing), so the
        # snapshot-building part of _flush is serialised; update()'s fast path is not.
        self._flush_lock = threading.Lock()
        self._published: tuple[Any, ...] = ()
        self._stage_weights: list[float] = []
        self._estimator = RateEstimator(tau=conf.get("ETA_SMOOTHING_SECONDS"))
        self.rate: float | None = None
        self.estimated_completion: datetime | None = None
        self._samples = history.SampleSeries()
        self._started_clock = monotonic()
        # Past runs of this operation for the ETA while the live rate warms up; loaded by the
        # writer in the background (a Future), so start() never waits for it.
        self._past: Future[list[history.PastRun]] | None = None
        self._stage_base = (0, 0, 0)
        self._stage_clock = self._started_clock
        # Log records of the tracked block (progress.logcapture), drained by the writer.
        self.run_log = logcapture.new_run_log(self.id)

    # --- construction --------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        operation_name: str,
        *,
        user: Any = None,
        total_items: int | None = None,
        metadata: dict[str, Any] | None = None,
        status: str = Status.QUEUED,
    ) -> ProgressTracker:
        """Create a new run (queued) on the tracker's own connection."""
        created_by = user if getattr(user, "is_authenticated", False) else None

        def insert() -> OperationProgress:
            return OperationProgress.objects.create(
                operation_name=operation_name,
                status=status,
                total_items=total_items,
                created_by=created_by,
                metadata=metadata or {},
            )

        return cls(get_writer().call(insert, timeout=conf.get("FINAL_FLUSH_TIMEOUT")))

    @classmethod
    def for_operation(cls, operation_id: int) -> ProgressTracker:
        """Attach to an existing run, for example one queued by an enqueue."""
        return cls(
            get_writer().call(
                lambda: OperationProgress.objects.get(pk=operation_id),
                timeout=conf.get("FINAL_FLUSH_TIMEOUT"),
            )
        )

    # --- reporting -----------------------------------------------------------------------

    def start(self, *, total_items: int | None = None, operation: str | None = None) -> None:
        """Mark the run running and write it at once."""
        self._transition(Status.RUNNING)
        self.started_at = timezone.now()
        if total_items is not None:
            self.total_items = total_items
        if operation is not None:
            self.current_operation = operation
        writer = get_writer()
        writer.register(self)
        self._started_clock = monotonic()
        self._past = writer.call_soon(
            lambda: history.past_runs(self.operation_name, exclude_id=self.id)
        )
        self._estimator.observe(self._started_clock, self.current_item, self._fraction())
        self._flush(must_write=True, wait=True)

    def update(
        self,
        current_item: int | None = None,
        *,
        total_items: int | None = None,
        items_added: int | None = None,
        items_updated: int | None = None,
        items_failed: int | None = None,
        operation: str | None = None,
        force: bool = False,
    ) -> None:
        """Record absolute counters; broadcast at most every BROADCAST_INTERVAL unless force."""
        # `is not None`, never truthiness: 0 is a value (the proposal's sketch dropped it).
        if current_item is not None:
            self.current_item = current_item
        if total_items is not None:
            self.total_items = total_items
        if items_added is not None:
            self.items_added = items_added
        if items_updated is not None:
            self.items_updated = items_updated
        if items_failed is not None:
            self.items_failed = items_failed
        if operation is not None:
            self.current_operation = operation
        if force:
            self._flush(must_write=True, wait=False)
            return
        # The hot path (bench figure 1): a countdown instead of a clock read on every call.
        self._countdown -= 1
        if self._countdown <= 0:
            self._tick()

    def advance(self, n: int = 1, *, added: int = 0, updated: int = 0, failed: int = 0) -> None:
        """Add to the counters (tqdm-style); same throttling as update()."""
        self.update(
            self.current_item + n,
            items_added=self.items_added + added,
            items_updated=self.items_updated + updated,
            items_failed=self.items_failed + failed,
        )

    def set_stages(self, stages: Sequence[str | tuple[str, float]]) -> None:
        """Declare the run's stages (name, or (name, weight)) for stage-weighted progress."""
        names = [s if isinstance(s, str) else s[0] for s in stages]
        self._stage_weights = [1.0 if isinstance(s, str) else float(s[1]) for s in stages]
        self.metadata["stages"] = names
        self.metadata["stage"] = None
        self.metadata["stage_results"] = [_stage_entry(name, i) for i, name in enumerate(names, 1)]

    def start_stage(self, name: str, *, total_items: int | None = None) -> None:
        """Enter the named stage: item counters restart and the change is broadcast at once."""
        names = self.metadata.get("stages") or []
        if name not in names:
            raise ValueError(f"Unknown stage {name!r}; declare it first with set_stages({names!r})")
        index = names.index(name)
        self._end_stage("completed")
        self.metadata["stage"] = {"name": name, "index": index + 1, "count": len(names)}
        self.current_operation = name
        self.current_item = 0
        self.total_items = total_items
        now = monotonic()
        self._estimator.reset_items(0, now)
        self._stage_base = (self.items_added, self.items_updated, self.items_failed)
        self._stage_clock = now
        entry = self._stage_result()
        if entry is not None:
            entry.update(status="running", started_at=timezone.now().isoformat())
        self._flush(must_write=True, wait=False)

    def record_stage_result(self, **details: Any) -> None:
        """Add details (a stage's own numbers, e.g. valid=10) to the current stage's result."""
        entry = self._stage_result()
        if entry is None:
            raise ValueError("No stage is running; call start_stage() first")
        entry.setdefault("details", {}).update(details)

    def record_failure(self, *, line: int | str | None, value: Any, reason: str) -> None:
        """Keep one item's failure (line or record id, value, reason) on the run, bounded.

        Values and reasons are cut to limits.MAX_FAILURE_TEXT characters and only the first
        limits.MAX_FAILURES_KEPT are kept (metadata "row_errors"); "row_errors_total" counts
        all. Counting the item in items_failed stays the caller's update().
        """
        limits.record_failure(self.metadata, line=line, value=value, reason=reason)

    def raise_if_cancelled(self) -> None:
        """Call at item boundaries: raises OperationCancelled once a cancel was requested."""
        if self.cancel_requested:
            raise OperationCancelled(f"Run {self.id} was cancelled")

    def complete(self, *, operation: str | None = None) -> None:
        """Mark the run completed and wait until the table holds it.

        A staged run's headline items become the sum over its stages, not the last stage's.
        """
        if self.metadata.get("stage_results"):
            self._end_stage("completed")
            self.current_item, self.total_items = _stage_sums(self.metadata["stage_results"])
        elif self.total_items is not None:
            self.current_item = max(self.current_item, self.total_items)
        self._finish(Status.COMPLETED, operation=operation or "Completed")

    def error(self, message: str, *, traceback_text: str = "") -> None:
        """Mark the run failed with a message a user can act on."""
        self.error_message = message[:MAX_ERROR_LENGTH]
        if traceback_text:
            self.metadata["traceback"] = traceback_text[-MAX_TRACEBACK_LENGTH:]
        self._finish(Status.FAILED)

    def cancel(self) -> None:
        """Mark the run cancelled, keeping the counts so far."""
        self._finish(Status.CANCELLED, operation="Cancelled")

    # --- async twins ---------------------------------------------------------------------

    async def astart(self, **kwargs: Any) -> None:
        """See start()."""
        await asyncio.to_thread(self.start, **kwargs)

    async def aupdate(self, current_item: int | None = None, **kwargs: Any) -> None:
        """See update(); never blocks the loop (a forced update only queues its write)."""
        self.update(current_item, **kwargs)

    async def acomplete(self, **kwargs: Any) -> None:
        """See complete()."""
        await asyncio.to_thread(self.complete, **kwargs)

    async def aerror(self, message: str, **kwargs: Any) -> None:
        """See error()."""
        await asyncio.to_thread(self.error, message, **kwargs)

    async def acancel(self) -> None:
        """See cancel()."""
        await asyncio.to_thread(self.cancel)

    # --- internals -----------------------------------------------------------------------

    @property
    def is_finished(self) -> bool:
        return self.status not in ACTIVE_STATUSES or self._finished_externally

    def static_fields(self) -> dict[str, Any]:
        """Fields that never change during the run (for serialising a snapshot)."""
        return {
            "pk": self.id,
            "operation_name": self.operation_name,
            "created_by_id": self.created_by_id,
            "created_at": self._created_at,
            "task_result_id": self._task_result_id,
        }

    def _finished_elsewhere(self) -> None:
        """Called by the writer when the row was finished by someone else (stalled, cancelled)."""
        self._finished_externally = True
        self.cancel_requested = True

    def _transition(self, new: str) -> None:
        check_transition(self.status, new)
        self.status = new

    def _finish(self, status: str, *, operation: str | None = None) -> None:
        if self._finished_externally:
            return  # someone else already wrote this run's final state; it never changes
        self._transition(status)
        self.completed_at = timezone.now()
        self.estimated_completion = None
        self.metadata.pop("eta_source", None)
        self._end_stage(STAGE_END_STATUS.get(status, status))
        if status == Status.COMPLETED:
            for entry in self.metadata.get("stage_results") or []:
                if entry["status"] == "pending":
                    entry["status"] = "skipped"
        if operation is not None:
            self.current_operation = operation
        writer = get_writer()
        writer.unregister(self)
        self._flush(must_write=True, wait=True)

    def _fraction(self) -> float | None:
        """Overall completion in [0, 1], stage-weighted when stages are declared."""
        if self.status == Status.COMPLETED:
            return 1.0
        within = None
        if self.total_items:
            within = min(self.current_item / self.total_items, 1.0)
        elif self.total_items == 0:
            within = 1.0
        stage = self.metadata.get("stage")
        if not self._stage_weights or stage is None:
            return within if not self._stage_weights else 0.0
        weights = self._stage_weights
        done = sum(weights[: stage["index"] - 1])
        return (done + weights[stage["index"] - 1] * (within or 0.0)) / sum(weights)

    def _tick(self) -> None:
        """Publish if BROADCAST_INTERVAL has passed, and pick how many calls until the next
        clock read: about 16 reads per interval at the current call rate, between 1 and
        MAX_STRIDE. If calls slow down after a fast burst, the writer's trailing publish
        (publish_trailing) still shows the newest counters within a second."""
        now = monotonic()
        if now >= self._next_submit:
            self._flush(must_write=False, wait=False, now=now)
        elapsed = now - self._last_clock
        if elapsed > 0:
            per_second = self._stride / elapsed
            self._stride = max(1, min(MAX_STRIDE, int(per_second * self._broadcast_interval / 16)))
        self._last_clock = now
        self._countdown = self._stride

    def publish_trailing(self) -> None:
        """Publish counters that changed after the last throttled publish (writer thread).

        Without this, the last updates before one long item would stay invisible until the
        pipeline's next update() call, possibly minutes later.
        """
        if (
            self.status == Status.RUNNING
            and monotonic() >= self._next_submit  # the throttle still applies
            and self._counters() != self._published
        ):
            self._flush(must_write=False, wait=False)

    def _counters(self) -> tuple[Any, ...]:
        return (
            self.current_item,
            self.total_items,
            self.items_added,
            self.items_updated,
            self.items_failed,
            self.current_operation,
        )

    def _flush(self, *, must_write: bool, wait: bool, now: float | None = None) -> None:
        with self._flush_lock:
            now = monotonic() if now is None else now
            self._next_submit = now + self._broadcast_interval
            self.seq += 1
            self._published = self._counters()
            fraction = self._fraction()
            if self.status == Status.RUNNING:
                self._estimator.observe(now, self.current_item, fraction)
                self.rate = self._estimator.rate
                remaining, source = self._seconds_remaining(fraction, now)
                self.estimated_completion = (
                    timezone.now() + timedelta(seconds=remaining) if remaining is not None else None
                )
                self.metadata["eta_source"] = source
            if self.metadata.get("stages"):
                total = self.total_items
                self.metadata["stage_percentage"] = (
                    round(100 * self.current_item / total, 2) if total else None
                )
                self._refresh_stage(now)
            self._samples.add(
                [
                    round(now - self._started_clock, 3),
                    self.current_item,
                    None if fraction is None else round(100 * fraction, 2),
                ]
            )
            job = WriteJob(self, self._fields(fraction), must_write)
            future = get_writer().submit(job, wait=wait)
        if future is not None:
            timeout = conf.get("FINAL_FLUSH_TIMEOUT")
            try:
                future.result(timeout)
            except TimeoutError:
                logger.error(
                    "Run %s: its %s state was not saved within %ss (database busy or down); "
                    "it will be written when the database answers.",
                    self.id,
                    self.status,
                    timeout,
                )

    def _seconds_remaining(
        self, fraction: float | None, now: float
    ) -> tuple[float | None, str | None]:
        """Seconds left and where the estimate came from: past runs until the live rate warms up."""
        past = self._past
        if not self._estimator.warmed_up and past is not None and past.done():
            remaining = None
            if past.exception() is None:
                remaining = history.history_seconds_remaining(
                    past.result(),
                    total=self.total_items,
                    current=self.current_item,
                    fraction=fraction,
                    elapsed=now - self._started_clock,
                    staged=bool(self._stage_weights),
                )
            if remaining is not None:
                return remaining, "history"
        remaining = self._estimator.seconds_remaining(fraction)
        return remaining, None if remaining is None else "live"

    def _stage_result(self) -> dict[str, Any] | None:
        """The running stage's entry in metadata["stage_results"], if a stage runs."""
        stage = self.metadata.get("stage")
        results = self.metadata.get("stage_results") or []
        if not stage or len(results) < stage["index"]:
            return None
        return results[stage["index"] - 1]

    def _refresh_stage(self, now: float) -> None:
        """Copy the run's counters since the stage started into the running stage's entry."""
        entry = self._stage_result()
        if entry is None or entry["status"] != "running":
            return
        added, updated, failed = self._stage_base
        entry.update(
            items=self.current_item,
            total=self.total_items,
            added=self.items_added - added,
            updated=self.items_updated - updated,
            failed=self.items_failed - failed,
            duration=round(now - self._stage_clock, 3),
        )

    def _end_stage(self, status: str) -> None:
        """Close the running stage (if any) with its final counts and status."""
        entry = self._stage_result()
        if entry is None or entry["status"] != "running":
            return
        self._refresh_stage(monotonic())
        entry.update(status=status, completed_at=timezone.now().isoformat())

    def _fields(self, fraction: float | None) -> dict[str, Any]:
        metadata = dict(self.metadata)
        if "stage_results" in metadata:
            # The writer encodes this on its own thread while stages go on updating theirs.
            metadata["stage_results"] = [dict(entry) for entry in metadata["stage_results"]]
        if self.run_log.total:
            metadata["log_lines"] = self.run_log.total
        return {
            "status": self.status,
            "current_operation": self.current_operation[:255],
            "progress_percentage": None if fraction is None else round(100 * fraction, 2),
            "current_item": self.current_item,
            "total_items": self.total_items,
            "items_added": self.items_added,
            "items_updated": self.items_updated,
            "items_failed": self.items_failed,
            "error_message": self.error_message,
            "rate": None if self.rate is None else round(self.rate, 3),
            "metadata": limits.bounded_metadata(metadata),
            "samples": self._samples.export(),
            "seq": self.seq,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "estimated_completion": self.estimated_completion,
            "updated_at": timezone.now(),
        }


def _stage_entry(name: str, index: int) -> dict[str, Any]:
    """A stage's result before it starts (the shape of metadata["stage_results"] items)."""
    return {
        "name": name,
        "index": index,
        "status": "pending",
        "items": 0,
        "total": None,
        "added": 0,
        "updated": 0,
        "failed": 0,
        "started_at": None,
        "completed_at": None,
        "duration": None,
    }


def _stage_sums(results: list[dict[str, Any]]) -> tuple[int, int]:
    """Items done and total over all stages (a stage without a total counts its items)."""
    items = sum(entry["items"] for entry in results)
    total = sum(entry["items"] if entry["total"] is None else entry["total"] for entry in results)
    return items, max(items, total)


def describe_exception(exc: BaseException) -> str:
    """A one-line, useful error message for a failed run."""
    text = str(exc).strip() or "(no message)"
    return f"{type(exc).__name__}: {text}"


@contextlib.contextmanager
def track_operation(
    operation_name: str,
    *,
    user: Any = None,
    total_items: int | None = None,
    metadata: dict[str, Any] | None = None,
    operation_id: int | None = None,
) -> Iterator[ProgressTracker]:
    """Track a block as one run: completed on a clean exit, failed (and re-raised) on error.

    OperationCancelled raised inside the block ends the run cancelled and is swallowed.
    Pass operation_id to run a queued OperationProgress instead of creating a new one.
    Log records emitted in the block's context are attached to the run (progress.logcapture).
    """
    with (
        _run_lifecycle(
            operation_name,
            user=user,
            total_items=total_items,
            metadata=metadata,
            operation_id=operation_id,
        ) as tracker,
        logcapture.capturing(tracker.run_log),
    ):
        yield tracker


@contextlib.contextmanager
def _run_lifecycle(
    operation_name: str,
    *,
    user: Any = None,
    total_items: int | None = None,
    metadata: dict[str, Any] | None = None,
    operation_id: int | None = None,
) -> Iterator[ProgressTracker]:
    """Start, then complete, fail or cancel one run (track_operation without log capture)."""
    if operation_id is not None:
        tracker = ProgressTracker.for_operation(operation_id)
    else:
        tracker = ProgressTracker.create(
            operation_name, user=user, total_items=total_items, metadata=metadata
        )
    tracker.start(total_items=total_items)
    try:
        yield tracker
    except OperationCancelled:
        tracker.cancel()
    except BaseException as exc:
        tracker.error(describe_exception(exc), traceback_text=traceback.format_exc())
        raise
    else:
        tracker.complete()


@contextlib.asynccontextmanager
async def atrack_operation(operation_name: str, **kwargs: Any) -> AsyncIterator[ProgressTracker]:
    """See track_operation()."""
    manager = _run_lifecycle(operation_name, **kwargs)
    tracker = await asyncio.to_thread(manager.__enter__)
    try:
        # Set in this task's context (a thread's copy would not reach the block).
        with logcapture.capturing(tracker.run_log):
            yield tracker
    except BaseException as exc:
        suppress = await asyncio.to_thread(manager.__exit__, type(exc), exc, exc.__traceback__)
        if not suppress:
            raise
    else:
        await asyncio.to_thread(manager.__exit__, None, None, None)
