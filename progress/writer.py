"""Per-process writer: persists run states on its own database connection.

It runs in one thread, so its connection is never inside a caller's transaction: a
pipeline running in ``transaction.atomic()`` still shows live progress, and a rollback
cannot undo what the table says about the run. After each write it hands the state to
the publisher, so status changes are broadcast only once they are committed.

It also owns the per-run background duties that must happen even while a pipeline is
stuck inside one long item: heartbeats, and noticing a cancel requested elsewhere.

Live runs' captured log lines (progress.logcapture) are drained here too: each batch is
broadcast to the run's own group as one frame, then stored, keeping the newest LOG_LINES.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from django import db
from django.utils import timezone

from progress import conf, logcapture
from progress.models import ACTIVE_STATUSES, OperationLogLine, OperationProgress, Status
from progress.protocol import groups_for, layer_message, operation_group
from progress.publisher import get_publisher
from progress.serializers import operation_data
from progress.sweeper import sweep_interval

if TYPE_CHECKING:
    from progress.tracker import ProgressTracker

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Least seconds between two drains of the live runs' log queues.
MIN_LOG_INTERVAL = 0.1


@dataclass
class WriteJob:
    """The newest state of one run waiting to be written and/or broadcast."""

    tracker: ProgressTracker
    fields: dict[str, Any]
    must_write: bool  # start, final states and force=True skip the DB_INTERVAL throttle
    futures: list[Future[None]] = field(default_factory=list)


class ProgressWriter:
    """Writes run states from one background thread and drives heartbeats and cancel checks."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: dict[int, WriteJob] = {}
        self._calls: list[tuple[Callable[[], Any], Future[Any]]] = []
        self._dirty: dict[int, WriteJob] = {}
        self._last_write: dict[int, float] = {}
        self._trackers: weakref.WeakValueDictionary[int, ProgressTracker] = (
            weakref.WeakValueDictionary()
        )
        self._next_heartbeat = 0.0
        self._next_cancel_poll = 0.0
        self._next_sweep = time.monotonic() + conf.get("STALL_TIMEOUT") / 4
        self._next_log_drain = 0.0
        self._db_down = False
        self._thread = threading.Thread(target=self._run, name="progress-writer", daemon=True)
        self._thread.start()

    # --- called from tracker threads -------------------------------------------------

    def submit(self, job: WriteJob, *, wait: bool) -> Future[None] | None:
        """Queue a run's newest state; with wait, return a future resolved once handled."""
        future: Future[None] | None = Future() if wait else None
        with self._cond:
            previous = self._pending.get(job.tracker.id)
            if previous is not None:
                job.futures.extend(previous.futures)
                job.must_write = job.must_write or previous.must_write
            if future is not None:
                job.futures.append(future)
            self._pending[job.tracker.id] = job
            self._cond.notify()
        return future

    def call(self, fn: Callable[[], T], timeout: float | None = None) -> T:
        """Run fn on the writer's own connection (outside any caller transaction)."""
        if threading.current_thread() is self._thread:
            return fn()
        return self.call_soon(fn).result(timeout)

    def call_soon(self, fn: Callable[[], T]) -> Future[T]:
        """Queue fn for the writer's connection; the future holds its result or exception."""
        future: Future[T] = Future()
        with self._cond:
            self._calls.append((fn, future))
            self._cond.notify()
        return future

    def register(self, tracker: ProgressTracker) -> None:
        """Start heartbeats and cancel checks for a live run."""
        now = time.monotonic()
        with self._cond:
            self._trackers[tracker.id] = tracker
            # A new run gets its first beat and cancel check within one interval.
            self._next_heartbeat = min(self._next_heartbeat, now + conf.get("HEARTBEAT_INTERVAL"))
            self._next_cancel_poll = min(
                self._next_cancel_poll, now + conf.get("CANCEL_POLL_INTERVAL")
            )
            self._next_log_drain = min(self._next_log_drain, now + log_drain_interval())
            self._cond.notify()

    def unregister(self, tracker: ProgressTracker) -> None:
        with self._cond:
            self._trackers.pop(tracker.id, None)

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until nothing is pending (tests and shutdown); True if drained."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                if not self._pending and not self._calls and not self._dirty and not self._busy:
                    return True
            time.sleep(0.01)
        return False

    def close_connection(self) -> None:
        """Close the writer's database connection (before a test database is dropped)."""
        self.call(lambda: db.connection.close(), timeout=5)

    # --- the writer thread ---------------------------------------------------------------

    _busy = False

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._calls:
                    timeout = self._seconds_until_duty()
                    if timeout is not None and timeout <= 0:
                        break
                    self._cond.wait(timeout)
                batch, self._pending = self._pending, {}
                calls, self._calls = self._calls, []
                self._busy = True
            try:
                for fn, future in calls:
                    self._run_call(fn, future)
                for job in batch.values():
                    self._handle(job)
                self._periodic_duties()
            except Exception:  # the writer thread must survive anything
                logger.exception("Progress writer error")
            finally:
                self._busy = False

    def _run_call(self, fn: Callable[[], Any], future: Future[Any]) -> None:
        try:
            future.set_result(fn())
        except BaseException as exc:
            db.close_old_connections()
            future.set_exception(exc)

    def _seconds_until_duty(self) -> float | None:
        if not self._trackers and not self._dirty:
            return None
        now = time.monotonic()
        candidates = [self._next_heartbeat, self._next_cancel_poll]
        if self._trackers:
            candidates.append(self._next_log_drain)
        interval = conf.get("DB_INTERVAL")
        candidates += [self._last_write.get(run_id, 0) + interval for run_id in self._dirty]
        return max(0.0, min(candidates) - now)

    def _handle(self, job: WriteJob) -> None:
        run_id = job.tracker.id
        # Lines logged before this state are stored before it (a final state last of all).
        self._drain_log(job.tracker)
        if job.fields["status"] not in ACTIVE_STATUSES:
            self._write_and_broadcast(job)  # a final state: the table first, then browsers
            return
        # A live state: browsers first (a database round trip would add to every update's
        # latency, bench figure 3a), then the table, at once or when DB_INTERVAL has passed.
        self._broadcast(job)
        elapsed = time.monotonic() - self._last_write.get(run_id, 0)
        if job.must_write or elapsed >= conf.get("DB_INTERVAL"):
            self._write_and_broadcast(job, broadcast=False)
        else:
            self._dirty[run_id] = job

    def _write_and_broadcast(self, job: WriteJob, *, broadcast: bool = True) -> None:
        written = self._write(job)
        if written is None:
            # Retried after DB_INTERVAL; a final state is broadcast only once it is written.
            self._dirty[job.tracker.id] = job
            return
        if written and broadcast:
            self._broadcast(job)
        self._resolve(job)

    def _write(self, job: WriteJob) -> bool | None:
        """Write the job's fields; False if the run was finished elsewhere, None on error."""
        run_id = job.tracker.id
        fields = {**job.fields, "heartbeat_at": timezone.now()}
        self._last_write[run_id] = time.monotonic()
        try:
            changed = OperationProgress.objects.filter(
                pk=run_id, status__in=ACTIVE_STATUSES
            ).update(**fields)
        except Exception as exc:
            self._note_db_down(exc)
            return None
        self._note_db_up()
        self._dirty.pop(run_id, None)
        if not changed:
            job.tracker._finished_elsewhere()
            self._forget(run_id)
            return False
        if job.fields["status"] not in ACTIVE_STATUSES:
            self._forget(run_id)
        return True

    def _broadcast(self, job: WriteJob) -> None:
        tracker = job.tracker
        operation = OperationProgress(**tracker.static_fields(), **job.fields)
        try:
            data = operation_data(operation)
        except Exception:
            logger.exception("Could not serialise run %s", tracker.id)
            return
        get_publisher().publish(groups_for(tracker.id, tracker.created_by_id), layer_message(data))

    def _drain_log(self, tracker: ProgressTracker) -> None:
        """Broadcast the run's new log lines to its own group, then store them."""
        lines = tracker.run_log.take()
        if not lines:
            return
        frame = logcapture.log_frame(tracker.id, lines)
        publish_log = getattr(get_publisher(), "publish_log", None)
        if frame is not None and publish_log is not None:
            message = {"type": logcapture.LAYER_LOG, "id": tracker.id, "text": frame}
            try:
                publish_log(operation_group(tracker.id), message)
            except Exception:  # live lines are best effort; the final write must still happen
                logger.exception("Run %s: could not send its log lines", tracker.id)
        try:
            store_log_lines(tracker.id, lines, keep=conf.get("LOG_LINES"))
        except Exception as exc:  # lines are best effort; the run's state is not
            self._note_db_down(exc)

    def _drain_logs(self, ids: list[int]) -> None:
        for run_id in ids:
            tracker = self._trackers.get(run_id)
            if tracker is not None:
                self._drain_log(tracker)

    @staticmethod
    def _resolve(job: WriteJob) -> None:
        for future in job.futures:
            if not future.done():
                future.set_result(None)
        job.futures.clear()

    def _forget(self, run_id: int) -> None:
        self._last_write.pop(run_id, None)
        self._dirty.pop(run_id, None)

    def _periodic_duties(self) -> None:
        now = time.monotonic()
        interval = conf.get("DB_INTERVAL")
        for run_id, job in list(self._dirty.items()):
            if now - self._last_write.get(run_id, 0) >= interval:
                self._handle_dirty(job)
        ids = list(self._trackers.keys())
        if not ids:
            return
        if now >= self._next_log_drain:
            self._next_log_drain = now + log_drain_interval()
            self._drain_logs(ids)
        if now >= self._next_cancel_poll:
            self._next_cancel_poll = now + conf.get("CANCEL_POLL_INTERVAL")
            self._poll_cancel_requests(ids)
            for run_id in ids:
                tracker = self._trackers.get(run_id)
                if tracker is not None:
                    tracker.publish_trailing()
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + conf.get("HEARTBEAT_INTERVAL")
            self._beat(ids)
        if now >= self._next_sweep:
            # Processes that track runs also find other processes' dead runs (workers
            # sweep each other), so no run stays "running" when no server is up.
            self._next_sweep = now + sweep_interval()
            self._sweep()

    def _handle_dirty(self, job: WriteJob) -> None:
        # Counters were broadcast when they arrived; a final state waits for its write.
        self._write_and_broadcast(job, broadcast=job.fields["status"] not in ACTIVE_STATUSES)

    def _poll_cancel_requests(self, ids: list[int]) -> None:
        try:
            rows = OperationProgress.objects.filter(pk__in=ids).values_list(
                "pk", "status", "cancel_requested_at", "task_result_id"
            )
            for run_id, status, cancel_requested_at, task_result_id in rows:
                tracker = self._trackers.get(run_id)
                if tracker is None:
                    continue
                # An enqueue records the task id after a fast worker may have attached.
                tracker._task_result_id = task_result_id
                if status not in ACTIVE_STATUSES:
                    tracker._finished_elsewhere()
                elif cancel_requested_at is not None:
                    tracker.cancel_requested = True
        except Exception as exc:
            self._note_db_down(exc)

    def _sweep(self) -> None:
        from progress.services import stalled_runs_mark

        try:
            stalled_runs_mark()
        except Exception as exc:
            self._note_db_down(exc)

    def _beat(self, ids: list[int]) -> None:
        try:
            OperationProgress.objects.filter(pk__in=ids, status=Status.RUNNING).update(
                heartbeat_at=timezone.now()
            )
        except Exception as exc:
            self._note_db_down(exc)

    def _note_db_down(self, exc: Exception) -> None:
        db.close_old_connections()
        if not self._db_down:
            self._db_down = True
            logger.error(
                "Progress writes to the database are failing (%s: %s); retrying every %ss.",
                type(exc).__name__,
                exc,
                conf.get("DB_INTERVAL"),
            )

    def _note_db_up(self) -> None:
        if self._db_down:
            self._db_down = False
            logger.warning("Progress writes to the database recovered.")


def log_drain_interval() -> float:
    """Seconds between drains of live runs' log lines: one frame per broadcast interval."""
    return float(max(conf.get("BROADCAST_INTERVAL"), MIN_LOG_INTERVAL))


def store_log_lines(run_id: int, lines: list[logcapture.LogLine], *, keep: int) -> None:
    """Insert a batch of a run's lines and delete all but its newest keep."""
    if keep <= 0:
        return
    OperationLogLine.objects.bulk_create(
        [
            OperationLogLine(
                run_id=run_id,
                number=line.number,
                time=datetime.fromtimestamp(line.created, UTC),
                level=line.level,
                logger=line.logger,
                message=line.message,
            )
            for line in lines[-keep:]
        ],
        ignore_conflicts=True,
    )
    newest = lines[-1].number
    if newest > keep:
        OperationLogLine.objects.filter(run_id=run_id, number__lte=newest - keep).delete()


_writer: ProgressWriter | None = None
_writer_lock = threading.Lock()


def get_writer() -> ProgressWriter:
    """The process-wide writer, started on first use."""
    global _writer
    if _writer is None:
        with _writer_lock:
            if _writer is None:
                _writer = ProgressWriter()
    return _writer
