"""RunHandle: what a run's tracker and the process's writer share, and nothing else.

The tracker creates the handle and changes its state; the writer thread reads the handle
and answers through it (a cancel, a finish elsewhere, the task id). The writer never holds
the tracker and never runs its code: a trailing publish is built here, from the latest
state, under the lock the tracker holds while it builds a state of its own.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from progress.models import ACTIVE_STATUSES, OperationProgress, Status
from progress.runtime import fields, logcapture
from progress.runtime.fields import RunState


@dataclass(eq=False)
class StateJob:
    """One state of a run to write and/or broadcast: the handle and the row's new fields."""

    handle: RunHandle
    fields: dict[str, Any]
    must_write: bool  # start, final states and force=True skip the DB_INTERVAL throttle
    # Resolved once the state is handled (written, or found finished elsewhere); a newer
    # state of the run that replaces this one takes them over.
    futures: list[Future[None]] = field(default_factory=list)

    @property
    def is_final(self) -> bool:
        return self.fields["status"] not in ACTIVE_STATUSES


@dataclass(eq=False)
class RunHandle:
    """One live run as the writer sees it: id, fixed fields, flags, latest state."""

    id: int
    fixed: dict[str, Any]
    state: RunState
    task_result_id: str = ""
    run_log: logcapture.RunLog | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    # When a cancel was requested (as the row holds it): every state published after the
    # writer learned of it says so, so a page shows "Cancelling…" until the final state.
    cancel_requested_at: datetime | None = None
    finished_elsewhere: threading.Event = field(default_factory=threading.Event)
    # Held while a state is built and queued, by the tracker or by a trailing publish.
    lock: threading.Lock = field(default_factory=threading.Lock)
    stage_weights: list[float] = field(default_factory=list)
    # The newest queued state's fields and counters, and when it was published (monotonic).
    published: dict[str, Any] = field(default_factory=dict)
    published_counters: tuple[Any, ...] = ()
    published_at: float = 0.0
    # The status the table holds as far as this process knows (writer thread only).
    written_status: str = ""
    _seqs: Iterator[int] = field(default_factory=itertools.count)

    @classmethod
    def of(cls, operation: OperationProgress) -> RunHandle:
        """A handle for the run the row describes, its state as the row holds it."""
        handle = cls(
            id=operation.pk,
            fixed=fields.fixed_fields(operation),
            state=RunState.of(operation),
            task_result_id=operation.task_result_id,
            run_log=logcapture.new_run_log(operation.pk),
            written_status=operation.status,
        )
        handle._seqs = itertools.count(operation.seq + 1)
        if operation.cancel_requested_at is not None:
            handle.cancel_requested(operation.cancel_requested_at)
        return handle

    def cancel_requested(self, at: datetime) -> None:
        """A cancel was requested at `at`: the tracker stops at its next check (any thread)."""
        if self.cancel_requested_at is None:
            self.cancel_requested_at = at
        self.cancel.set()

    def next_seq(self) -> int:
        """A seq higher than any this process gave the run before (any thread)."""
        return next(self._seqs)

    def record_published(self, job_fields: dict[str, Any], now: float) -> None:
        """Remember the state just queued: a trailing publish starts from it (lock held)."""
        self.published = job_fields
        self.published_counters = self.state.counters()
        self.published_at = now

    def trailing_fields(self) -> dict[str, Any] | None:
        """The latest counters on top of the last published state, if they changed (lock held).

        None when there is nothing to add: the run is not running, or no counter moved.
        """
        state = self.state
        if state.status != Status.RUNNING or not self.published:
            return None
        counters = state.counters()
        if counters == self.published_counters:
            return None
        fraction = fields.overall_fraction(
            state.status,
            current_item=state.current_item,
            total_items=state.total_items,
            stage_weights=self.stage_weights,
            stage=self.published["metadata"].get("stage"),
        )
        trailing = {
            **self.published,
            **dict(zip(fields.COUNTER_FIELDS, counters, strict=True)),
            "progress_percentage": fields.percentage(fraction),
            "seq": self.next_seq(),
            "updated_at": timezone.now(),
        }
        trailing["current_operation"] = trailing["current_operation"][: fields.MAX_OPERATION_TEXT]
        self.published_counters = counters
        return trailing

    def operation(self, job_fields: dict[str, Any]) -> OperationProgress:
        """An unsaved OperationProgress holding this run at job_fields (for serialising)."""
        return OperationProgress(
            **self.fixed,
            task_result_id=self.task_result_id,
            cancel_requested_at=self.cancel_requested_at,
            **job_fields,
        )
