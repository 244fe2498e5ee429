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
import operator
import traceback
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence, Sized
from concurrent.futures import Future
from datetime import timedelta
from time import monotonic
from typing import Any, Protocol, TypeVar

from django.core.files import File
from django.core.files.base import ContentFile
from django.utils import timezone

from progress import conf, files, limits
from progress.models import ACTIVE_STATUSES, OperationProgress, Status, check_transition
from progress.runtime import fields, history, logcapture
from progress.runtime.estimator import RateEstimator
from progress.runtime.handle import RunHandle, StateJob
from progress.runtime.writer import get_writer

__all__ = [
    "OperationCancelled",
    "ProgressTracker",
    "Reporter",
    "atrack_operation",
    "track_operation",
]

logger = logging.getLogger(__name__)
T = TypeVar("T")

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
        items_unchanged: int | None = None,
        items_skipped: int | None = None,
        items_failed: int | None = None,
        operation: str | None = None,
        force: bool = False,
    ) -> None: ...

    def raise_if_cancelled(self) -> None: ...

    def record_failure(self, *, line: int | str | None, value: Any, reason: str) -> None: ...

    def attach_file(
        self, name: str, content: str | bytes | File[Any], *, kind: str = files.REPORT
    ) -> str: ...


class OperationCancelled(Exception):
    """Raised at an item boundary when someone asked the run to stop."""


class ProgressTracker:
    """Tracks one run (one OperationProgress row). Create with create() or for_operation().

    The run's fields (current_item, total_items, items_added, metadata, status, seq, ...;
    progress.runtime.fields.RunState) read as attributes; change them through the methods.
    """

    # Slots make update()'s attribute writes cheaper; __weakref__ is for callers' registries.
    __slots__ = (
        "__weakref__",
        "_broadcast_interval",
        "_countdown",
        "_estimator",
        "_last_clock",
        "_past",
        "_samples",
        "_stage_base",
        "_stage_clock",
        "_started_clock",
        "_stride",
        "handle",
        "id",
        "state",
    )

    def __init__(self, operation: OperationProgress) -> None:
        # What the writer thread may see of this run; it never sees the tracker itself.
        self.handle = RunHandle.of(operation)
        self.id: int = operation.pk
        self.state = self.handle.state
        self._broadcast_interval = conf.get("BROADCAST_INTERVAL")
        # update() reads the clock every _stride calls (tqdm's miniters idea), see _tick().
        self._stride = self._countdown = 1
        self._last_clock = monotonic()
        self._estimator = RateEstimator(tau=conf.get("ETA_SMOOTHING_SECONDS"))
        self._samples = history.SampleSeries()
        self._started_clock = monotonic()
        # Past runs of this operation for the ETA while the live rate warms up; loaded by the
        # writer in the background (a Future), so start() never waits for it.
        self._past: Future[list[history.PastRun]] | None = None
        self._stage_base: tuple[int, ...] = (0,) * len(STAGE_COUNTERS)
        self._stage_clock = self._started_clock

    def __getattr__(self, name: str) -> Any:
        """The run's state and fixed fields as attributes (tracker.current_item, .metadata)."""
        if name in fields.STATE_FIELDS:
            return getattr(self.state, name)
        if name in fields.FIXED_FIELDS:
            return self.handle.fixed[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def run_log(self) -> logcapture.RunLog:
        """Log records of the tracked block (progress.runtime.logcapture), drained by the writer."""
        assert self.handle.run_log is not None
        return self.handle.run_log

    @property
    def cancel_requested(self) -> bool:
        """True once someone asked the run to stop (or it was finished elsewhere)."""
        return self.handle.cancel.is_set()

    @cancel_requested.setter
    def cancel_requested(self, value: bool) -> None:
        if value:
            self.handle.cancel.set()
        else:
            self.handle.cancel.clear()

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
        state = self.state
        self._transition(Status.RUNNING)
        state.started_at = timezone.now()
        if total_items is not None:
            state.total_items = total_items
        if operation is not None:
            state.current_operation = operation
        writer = get_writer()
        writer.register(self.handle)
        self._started_clock = monotonic()
        name, run_id = self.handle.fixed["operation_name"], self.id
        self._past = writer.call_soon(lambda: history.past_runs(name, exclude_id=run_id))
        self._estimator.observe(self._started_clock, state.current_item, self._fraction())
        self._flush(must_write=True, wait=True)

    # update() and advance() take their counters by name (the Reporter protocol says so),
    # but not as keyword-only parameters: CPython fills each missing keyword-only default
    # from a dict on every call, which was a third of update()'s cost (bench figure 1).
    def update(
        self,
        current_item: int | None = None,
        total_items: int | None = None,
        items_added: int | None = None,
        items_updated: int | None = None,
        items_unchanged: int | None = None,
        items_skipped: int | None = None,
        items_failed: int | None = None,
        operation: str | None = None,
        force: bool = False,
    ) -> None:
        """Record absolute counters; broadcast at most every BROADCAST_INTERVAL unless force."""
        state = self.state
        # `is not None`, never truthiness: 0 is a value (the proposal's sketch dropped it).
        if current_item is not None:
            state.current_item = current_item
        if total_items is not None:
            state.total_items = total_items
        if items_added is not None:
            state.items_added = items_added
        if items_updated is not None:
            state.items_updated = items_updated
        if items_unchanged is not None:
            state.items_unchanged = items_unchanged
        if items_skipped is not None:
            state.items_skipped = items_skipped
        if items_failed is not None:
            state.items_failed = items_failed
        if operation is not None:
            state.current_operation = operation
        if force:
            self._flush(must_write=True, wait=False)
            return
        # The hot path (bench figure 1): a countdown instead of a clock read on every call
        # (read once into a local: one attribute load fewer per call).
        left = self._countdown - 1
        self._countdown = left
        if left <= 0:
            self._tick()

    def advance(
        self,
        n: int = 1,
        added: int = 0,
        updated: int = 0,
        unchanged: int = 0,
        skipped: int = 0,
        failed: int = 0,
    ) -> None:
        """Add to the counters (tqdm-style); same throttling as update()."""
        state = self.state
        state.current_item += n
        # Only the counters given change (a call per item, as track() makes: no update()).
        if added:
            state.items_added += added
        if updated:
            state.items_updated += updated
        if unchanged:
            state.items_unchanged += unchanged
        if skipped:
            state.items_skipped += skipped
        if failed:
            state.items_failed += failed
        left = self._countdown - 1  # update()'s countdown
        self._countdown = left
        if left <= 0:
            self._tick()

    def track(self, iterable: Iterable[T], *, total: int | None = None) -> Iterator[T]:
        """Iterate like tqdm: ``for row in tracker.track(rows):`` counts each row once its body ran.

        The total is len(iterable) when it has one, unless given. Before each item the run
        stops if a cancel was requested (raise_if_cancelled); an item whose body raised or
        broke out of the loop is not counted.
        """
        if total is None and isinstance(iterable, Sized):
            total = len(iterable)
        if total is not None:
            self.update(total_items=total)
        for item in iterable:
            self.raise_if_cancelled()
            yield item
            self.advance()

    def attach_file(
        self, name: str, content: str | bytes | File[Any], *, kind: str = files.REPORT
    ) -> str:
        """Store a file the run made (a report, an export) and list it on the run.

        Saved through the runs' storage (progress.files, PROGRESS["STORAGE"]) under a random
        name in the folder for its kind; name is the label users see, and a File's own name
        (else name) gives the extension. It is listed in metadata["files"], so the run's page
        offers it to those who may see the run and pruning the run deletes it. Returns the
        storage name.
        """
        if isinstance(content, str):
            content = content.encode()
        upload = content if isinstance(content, File) else ContentFile(content, name=name)
        stored = files.upload_save(upload, folder=files.storage_folder(kind))
        size = upload.size if isinstance(upload.size, int) else None
        files.record_file(self.state.metadata, name=stored, label=name, kind=kind, size=size)
        self._flush(must_write=True, wait=False)
        return stored

    def set_stages(self, stages: Sequence[StageSpec]) -> None:
        """Declare the run's stages for stage-weighted progress: each a name, (name, weight)
        or (name, weight, unit), where unit names what the stage counts ("genes"; "items")."""
        specs = [_stage_spec(stage) for stage in stages]
        self.handle.stage_weights = [weight for _, weight, _ in specs]
        metadata = self.state.metadata
        metadata["stages"] = [name for name, _, _ in specs]
        metadata["stage"] = None
        metadata["stage_results"] = [
            _stage_entry(name, i, unit) for i, (name, _, unit) in enumerate(specs, 1)
        ]

    def start_stage(self, name: str, *, total_items: int | None = None) -> None:
        """Enter the named stage: item counters restart and the change is broadcast at once."""
        state = self.state
        names = state.metadata.get("stages") or []
        if name not in names:
            raise ValueError(f"Unknown stage {name!r}; declare it first with set_stages({names!r})")
        index = names.index(name)
        self._end_stage("completed")
        results = state.metadata.get("stage_results") or []
        unit = results[index].get("unit", DEFAULT_UNIT) if index < len(results) else DEFAULT_UNIT
        state.metadata["stage"] = {
            "name": name,
            "index": index + 1,
            "count": len(names),
            "unit": unit,
        }
        state.current_operation = name
        state.current_item = 0
        state.total_items = total_items
        now = monotonic()
        self._estimator.reset_items(0, now)
        self._stage_base = _stage_counters(state)
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
        limits.record_failure(self.state.metadata, line=line, value=value, reason=reason)

    def raise_if_cancelled(self) -> None:
        """Call at item boundaries: raises OperationCancelled once a cancel was requested."""
        if self.handle.cancel.is_set():
            raise OperationCancelled(f"Run {self.id} was cancelled")

    def complete(self, *, operation: str | None = None) -> None:
        """Mark the run completed and wait until the table holds it.

        A staged run's headline items become the sum over its stages when they all count
        the same unit; stages that count different things (genes, then curations) are never
        added up, and the run keeps its last stage's items in that stage's unit.
        """
        state = self.state
        results = state.metadata.get("stage_results")
        if results:
            self._end_stage("completed")
            if len({entry.get("unit", DEFAULT_UNIT) for entry in results}) == 1:
                state.current_item, state.total_items = _stage_sums(results)
        elif state.total_items is not None:
            state.current_item = max(state.current_item, state.total_items)
        self._finish(Status.COMPLETED, operation=operation or "Completed")

    def error(self, message: str, *, traceback_text: str = "") -> None:
        """Mark the run failed with a message a user can act on."""
        self.state.error_message = message[:MAX_ERROR_LENGTH]
        if traceback_text:
            self.state.metadata["traceback"] = traceback_text[-MAX_TRACEBACK_LENGTH:]
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
        return self.state.status not in ACTIVE_STATUSES or self.handle.finished_elsewhere.is_set()

    def _transition(self, new: str) -> None:
        check_transition(self.state.status, new)
        self.state.status = new

    def _finish(self, status: str, *, operation: str | None = None) -> None:
        if self.handle.finished_elsewhere.is_set():
            return  # someone else already wrote this run's final state; it never changes
        state = self.state
        self._transition(status)
        state.completed_at = timezone.now()
        state.estimated_completion = None
        state.metadata.pop("eta_source", None)
        self._end_stage(STAGE_END_STATUS.get(status, status))
        if status == Status.COMPLETED:
            for entry in state.metadata.get("stage_results") or []:
                if entry["status"] == "pending":
                    entry["status"] = "skipped"
        if operation is not None:
            state.current_operation = operation
        get_writer().unregister(self.handle)
        self._flush(must_write=True, wait=True)

    def _fraction(self) -> float | None:
        state = self.state
        return fields.overall_fraction(
            state.status,
            current_item=state.current_item,
            total_items=state.total_items,
            stage_weights=self.handle.stage_weights,
            stage=state.metadata.get("stage"),
        )

    def _tick(self) -> None:
        """Publish if BROADCAST_INTERVAL has passed, and pick how many calls until the next
        clock read: about 16 reads per interval at the current call rate, between 1 and
        MAX_STRIDE. If calls slow down after a fast burst, the writer's trailing publish
        (from the run's handle) still shows the newest counters within a second."""
        now = monotonic()
        # The throttle counts from the last publish, the writer's trailing ones included.
        if now >= self.handle.published_at + self._broadcast_interval:
            self._flush(must_write=False, wait=False, now=now)
        elapsed = now - self._last_clock
        if elapsed > 0:
            per_second = self._stride / elapsed
            self._stride = max(1, min(MAX_STRIDE, int(per_second * self._broadcast_interval / 16)))
        self._last_clock = now
        self._countdown = self._stride

    def _flush(self, *, must_write: bool, wait: bool, now: float | None = None) -> None:
        handle = self.handle
        with handle.lock:  # a trailing publish (writer thread) builds from the same state
            now = monotonic() if now is None else now
            state = self.state
            state.seq = handle.next_seq()
            fraction = self._fraction()
            if state.status == Status.RUNNING:
                self._observe(fraction, now)
            if state.metadata.get("stages"):
                total = state.total_items
                state.metadata["stage_percentage"] = (
                    round(100 * state.current_item / total, 2) if total else None
                )
                self._refresh_stage(now)
            percentage = fields.percentage(fraction)
            self._samples.add([round(now - self._started_clock, 3), state.current_item, percentage])
            job_fields = state.row_fields(
                percentage=percentage,
                metadata=self._wire_metadata(),
                samples=self._samples.export(),
            )
            handle.record_published(job_fields, now)
            future = get_writer().submit(StateJob(handle, job_fields, must_write), wait=wait)
        if future is not None:
            timeout = conf.get("FINAL_FLUSH_TIMEOUT")
            try:
                future.result(timeout)
            except TimeoutError:
                logger.error(
                    "Run %s: its %s state was not saved within %ss (database busy or down); "
                    "it will be written when the database answers.",
                    self.id,
                    state.status,
                    timeout,
                )

    def _observe(self, fraction: float | None, now: float) -> None:
        """Feed the rate estimator and set the rate and ETA (a running run only)."""
        state = self.state
        self._estimator.observe(now, state.current_item, fraction)
        state.rate = self._estimator.rate
        remaining, source = self._seconds_remaining(fraction, now)
        state.estimated_completion = (
            timezone.now() + timedelta(seconds=remaining) if remaining is not None else None
        )
        state.metadata["eta_source"] = source

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
                    total=self.state.total_items,
                    current=self.state.current_item,
                    fraction=fraction,
                    elapsed=now - self._started_clock,
                    staged=bool(self.handle.stage_weights),
                )
            if remaining is not None:
                return remaining, "history"
        remaining = self._estimator.seconds_remaining(fraction)
        return remaining, None if remaining is None else "live"

    def _stage_result(self) -> dict[str, Any] | None:
        """The running stage's entry in metadata["stage_results"], if a stage runs."""
        stage = self.state.metadata.get("stage")
        results = self.state.metadata.get("stage_results") or []
        if not stage or len(results) < stage["index"]:
            return None
        return results[stage["index"] - 1]

    def _refresh_stage(self, now: float) -> None:
        """Copy the run's counters since the stage started into the running stage's entry."""
        entry = self._stage_result()
        if entry is None or entry["status"] != "running":
            return
        state = self.state
        since = dict(zip(STAGE_COUNTERS, _stage_counters(state), strict=True))
        for name, base in zip(STAGE_COUNTERS, self._stage_base, strict=True):
            since[name] -= base
        entry.update(
            items=state.current_item,
            total=state.total_items,
            **since,
            duration=round(now - self._stage_clock, 3),
        )

    def _end_stage(self, status: str) -> None:
        """Close the running stage (if any) with its final counts and status."""
        entry = self._stage_result()
        if entry is None or entry["status"] != "running":
            return
        self._refresh_stage(monotonic())
        entry.update(status=status, completed_at=timezone.now().isoformat())

    def _wire_metadata(self) -> dict[str, Any]:
        """The metadata to store: a bounded copy the writer can encode on its own thread."""
        metadata = dict(self.state.metadata)
        if "stage_results" in metadata:
            # The writer encodes this on its own thread while stages go on updating theirs.
            metadata["stage_results"] = [dict(entry) for entry in metadata["stage_results"]]
        if self.run_log.total:
            metadata["log_lines"] = self.run_log.total
        return limits.bounded_metadata(metadata)


# What a stage counts unless set_stages() names it.
DEFAULT_UNIT = "items"
StageSpec = str | tuple[str, float] | tuple[str, float, str]


def _stage_spec(stage: StageSpec) -> tuple[str, float, str]:
    """A stage as (name, weight, unit) from what set_stages() accepts."""
    if isinstance(stage, str):
        return stage, 1.0, DEFAULT_UNIT
    if len(stage) == 2:
        return stage[0], float(stage[1]), DEFAULT_UNIT
    return stage[0], float(stage[1]), str(stage[2])


def _stage_entry(name: str, index: int, unit: str = DEFAULT_UNIT) -> dict[str, Any]:
    """A stage's result before it starts (the shape of metadata["stage_results"] items)."""
    return {
        "name": name,
        "index": index,
        "unit": unit,
        "status": "pending",
        "items": 0,
        "total": None,
        "added": 0,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
        "started_at": None,
        "completed_at": None,
        "duration": None,
    }


# A stage result's counters (metadata["stage_results"] keys) and the run's fields they follow.
STAGE_COUNTERS = ("added", "updated", "unchanged", "skipped", "failed")
_stage_counters = operator.attrgetter(*(f"items_{name}" for name in STAGE_COUNTERS))


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
    Log records emitted in the block's context are attached to the run
    (progress.runtime.logcapture).
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
