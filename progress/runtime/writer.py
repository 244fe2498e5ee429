"""Per-process writer: persists run states on its own database connection.

It runs in one thread, so its connection is never inside a caller's transaction: a
pipeline running in ``transaction.atomic()`` still shows live progress, and a rollback
cannot undo what the table says about the run.

What to write, what to broadcast and when (throttles, ordering, heartbeats, cancel polls,
trailing publishes, stall sweeps) is decided by WritePolicy (progress/runtime/policy.py); this
thread only carries its steps out. It sees runs only through their RunHandle
(progress/runtime/handle.py), never a tracker: it answers through the handle (a cancel, a finish
elsewhere, the task id), and builds trailing publishes from the handle's latest state.

Live runs' captured log lines (progress.runtime.logcapture) are drained here too: each batch is
stored, keeping the newest LOG_LINES, then broadcast to the run's own group as one frame.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any, TypeVar

from django import db
from django.utils import timezone

from progress import conf, protocol, signals
from progress.models import ACTIVE_STATUSES, OperationLogLine, OperationProgress, Status
from progress.publish import broadcast
from progress.publish.outage import Outage
from progress.runtime import logcapture
from progress.runtime.handle import RunHandle, StateJob
from progress.runtime.policy import Step, WritePolicy, Written
from progress.runtime.sweeps import dead_runs_sweep

logger = logging.getLogger(__name__)
T = TypeVar("T")


class ProgressWriter:
    """Carries out WritePolicy's steps from one background thread."""

    def __init__(self, policy: WritePolicy | None = None) -> None:
        self._cond = threading.Condition()
        self._pending: dict[int, StateJob] = {}
        self._calls: list[tuple[Callable[[], Any], Future[Any]]] = []
        self._jobs: dict[int, StateJob] = {}  # the newest state of each dirty run
        self._handles: dict[int, RunHandle] = {}
        self.policy = policy or WritePolicy()
        self._db = Outage(
            logger,
            down="Progress writes to the database are failing (%s: %s); retrying every "
            "DB_INTERVAL.",
            recovered="Progress writes to the database recovered.",
        )
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="progress-writer", daemon=True)
        self._thread.start()

    # --- called from tracker threads -------------------------------------------------

    def submit(self, job: StateJob, *, wait: bool) -> Future[None] | None:
        """Queue a run's newest state; with wait, return a future resolved once handled."""
        future: Future[None] | None = Future() if wait else None
        with self._cond:
            previous = self._pending.get(job.handle.id)
            if previous is not None:
                job.futures.extend(previous.futures)
                job.must_write = job.must_write or previous.must_write
            if future is not None:
                job.futures.append(future)
            self._pending[job.handle.id] = job
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

    def tracked_run_ids(self) -> frozenset[int]:
        """The runs this process tracks now (their states and lines are sent live)."""
        with self._cond:
            return frozenset(self._handles)

    def register(self, handle: RunHandle) -> None:
        """Start heartbeats, cancel checks and log drains for a live run."""
        with self._cond:
            self._handles[handle.id] = handle
            self.policy.run_started(handle.id)
            self._cond.notify()

    def cancel_requested(self, run_id: int, at: datetime) -> bool:
        """Tell a run tracked in this process of its cancel at once; False if not tracked here.

        A run tracked elsewhere learns of it from its own writer's poll (CANCEL_POLL_INTERVAL).
        """
        with self._cond:
            handle = self._handles.get(run_id)
        if handle is None:
            return False
        handle.cancel_requested(at)
        return True

    def unregister(self, handle: RunHandle) -> None:
        """Stop the live run's duties (its tracker is finishing it)."""
        with self._cond:
            self.policy.run_ended(handle.id)

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until nothing is pending (tests and shutdown); True if drained."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                if not (self._pending or self._calls or self.policy.dirty or self._busy):
                    return True
            time.sleep(0.01)
        return False

    def close_connection(self) -> None:
        """Close the writer's database connection (before a test database is dropped)."""
        self.call(lambda: db.connection.close(), timeout=5)

    # --- the writer thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._calls:
                    timeout = self.policy.seconds_until_due()
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
                self._do_duties()
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

    def _handle(self, job: StateJob) -> None:
        older = self._jobs.pop(job.handle.id, None)
        if older is not None:  # a state still waiting for its write: this one replaces it
            job.futures.extend(older.futures)
        # Lines logged before this state are stored before it (a final state last of all).
        self._drain_log(job.handle)
        final, must_write = job.is_final, job.must_write
        self._carry_out(
            job, self.policy.state_arrived(job.handle.id, final=final, must_write=must_write)
        )

    def _carry_out(self, job: StateJob, steps: list[Step]) -> None:
        for step in steps:
            if step is Step.BROADCAST:
                broadcast.operation_broadcast(job.handle.operation(job.fields))
            else:
                self._carry_out(job, self._write(job))
        if job.handle.id in self.policy.dirty:
            self._jobs[job.handle.id] = job
        else:
            self._jobs.pop(job.handle.id, None)
            if Step.WRITE in steps or not job.is_final:
                self._resolve(job)

    def _write(self, job: StateJob) -> list[Step]:
        """Write the job's fields (only while the run is active); returns the next steps."""
        handle = job.handle
        self.policy.write_started(handle.id)
        # Kept in the fields, so a state broadcast after its write is the row, to the letter.
        job.fields["heartbeat_at"] = timezone.now()
        try:
            changed = OperationProgress.objects.filter(
                pk=handle.id, status__in=ACTIVE_STATUSES
            ).update(**job.fields)
        except Exception as exc:
            self._note_db_down(exc)
            return self.policy.written(handle.id, Written.FAILED, final=job.is_final)
        self._db.succeeded()
        if not changed:
            self._finished_elsewhere(handle)
            return self.policy.written(handle.id, Written.GONE, final=job.is_final)
        self._note_transition(handle, job.fields)
        return self.policy.written(handle.id, Written.SAVED, final=job.is_final)

    def _note_transition(self, handle: RunHandle, fields: dict[str, Any]) -> None:
        """Send the run's started/finished signal once the table holds the new status."""
        status = fields["status"]
        if status == handle.written_status:
            return
        handle.written_status = status
        operation = handle.operation(fields)
        if status == Status.RUNNING:
            signals.send_transition(signals.operation_started, operation)
        elif status not in ACTIVE_STATUSES:
            signals.send_transition(signals.operation_finished, operation, status=status)

    @staticmethod
    def _resolve(job: StateJob) -> None:
        """Wake whoever waits for this state (start and final states wait for their write)."""
        for future in job.futures:
            if not future.done():
                future.set_result(None)
        job.futures.clear()

    def _finished_elsewhere(self, handle: RunHandle) -> None:
        handle.finished_elsewhere.set()
        handle.cancel.set()
        self.policy.run_ended(handle.id)

    # --- periodic duties -------------------------------------------------------------

    def _do_duties(self) -> None:
        with self._cond:  # trackers register and unregister runs from their threads
            duties = self.policy.due()
            live = self.policy.live
            self._handles = {i: h for i, h in self._handles.items() if i in live}
            handles = list(self._handles.values())
        for run_id in duties.writes:
            job = self._jobs.get(run_id)
            if job is not None:
                # Counters were broadcast when they arrived; a final state waits for its write.
                self._carry_out(job, [Step.WRITE])
        if duties.drain_logs:
            for handle in handles:
                self._drain_log(handle)
        if duties.poll_cancels:
            self._poll_cancel_requests(handles)
            for handle in handles:
                self._publish_trailing(handle)
        if duties.beat:
            self._beat([handle.id for handle in handles])
        if duties.sweep:
            self._sweep()

    def _publish_trailing(self, handle: RunHandle) -> None:
        """Publish counters that changed after the last throttled publish.

        Without this, the last updates before one long item would stay invisible until the
        pipeline's next update() call, possibly minutes later.
        """
        if not self.policy.trailing_due(handle.published_at):
            return
        with handle.lock:
            fields = handle.trailing_fields()
            if fields is not None:
                handle.record_published(fields, self.policy.clock())
                self.submit(StateJob(handle, fields, must_write=False), wait=False)

    def _drain_log(self, handle: RunHandle) -> None:
        """Store the run's new log lines, then broadcast them to its own group.

        Stored first so that a page never misses a line: a line is either sent after its
        socket joined the run's log group, or stored before the page's catch-up fetch,
        which follows the snapshot the server sends once the socket has joined.
        """
        lines = handle.run_log.take() if handle.run_log is not None else []
        if not lines:
            return
        try:
            store_log_lines(handle.id, lines, keep=conf.get("LOG_LINES"))
        except Exception as exc:  # lines are best effort; the run's state is not
            self._note_db_down(exc)
        frame = logcapture.log_frame(handle.id, lines)
        if frame is not None:
            message = {"type": protocol.LAYER_LOG, "id": handle.id, "text": frame}
            try:
                broadcast.log_broadcast(handle.id, message)
            except Exception:  # live lines are best effort
                logger.exception("Run %s: could not send its log lines", handle.id)

    def _poll_cancel_requests(self, handles: list[RunHandle]) -> None:
        by_id = {handle.id: handle for handle in handles}
        try:
            rows = OperationProgress.objects.filter(pk__in=by_id).values_list(
                "pk", "status", "cancel_requested_at", "task_result_id"
            )
            for run_id, status, cancel_requested_at, task_result_id in rows:
                handle = by_id[run_id]
                # An enqueue records the task id after a fast worker may have attached.
                handle.task_result_id = task_result_id
                if status not in ACTIVE_STATUSES:
                    self._finished_elsewhere(handle)
                elif cancel_requested_at is not None:
                    handle.cancel_requested(cancel_requested_at)
        except Exception as exc:
            self._note_db_down(exc)

    def _sweep(self) -> None:
        try:
            dead_runs_sweep()
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
        self._db.failed(exc)


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


def cancel_requested_here(run_id: int, at: datetime) -> bool:
    """Pass a cancel to the run if this process tracks it (without starting a writer)."""
    writer = _writer
    return writer is not None and writer.cancel_requested(run_id, at)


def get_writer() -> ProgressWriter:
    """The process-wide writer, started on first use."""
    global _writer
    if _writer is None:
        with _writer_lock:
            if _writer is None:
                _writer = ProgressWriter()
    return _writer
