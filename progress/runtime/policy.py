"""WritePolicy: when the writer writes, broadcasts and does its periodic duties.

Pure: no threads, no database, no sleeping. It is told what happened (a state arrived, a
write landed or failed, a run started or ended) and answers with what to do, in order,
reading time from an injected clock, like the JS client (static/progress/client.js).
The writer thread (progress/runtime/writer.py) only carries the answers out.

The rules:
- A live state is broadcast first, then written at once (start, force=True) or once
  DB_INTERVAL has passed since the run's last write; until then it waits as "dirty".
- A final state is written first and broadcast only once the table holds it; a failed
  write is retried DB_INTERVAL later, and so is a live one.
- While any run is live: log lines are drained every log interval, cancel requests are
  polled every CANCEL_POLL_INTERVAL (with trailing publishes of counters that moved after
  the last throttled publish), heartbeats beat every HEARTBEAT_INTERVAL and other
  processes' dead runs are swept every sweep interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from progress import conf

# Least seconds between two drains of the live runs' log queues.
MIN_LOG_INTERVAL = 0.1


class Step(Enum):
    """One thing to do with a run's state."""

    BROADCAST = "broadcast"
    WRITE = "write"


class Written(Enum):
    """How a write ended."""

    SAVED = "saved"
    """The row took the state."""
    GONE = "gone"
    """The row had been finished elsewhere (stalled, cancelled); nothing was written."""
    FAILED = "failed"
    """The database refused or was unreachable; retried after DB_INTERVAL."""


@dataclass
class Duties:
    """What is due now: retried or throttled writes, and the periodic duties."""

    writes: list[int] = field(default_factory=list)
    drain_logs: bool = False
    poll_cancels: bool = False
    beat: bool = False
    sweep: bool = False


def sweep_interval(setting: Callable[[str], Any] = conf.get) -> float:
    """Often enough that a dead run is marked within about STALL_TIMEOUT plus a quarter."""
    return float(max(0.5, setting("STALL_TIMEOUT") / 4))


class WritePolicy:
    """Decides the writer's steps from events and an injected clock."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        setting: Callable[[str], Any] = conf.get,
    ) -> None:
        self.clock = clock
        self.setting = setting
        self.live: set[int] = set()
        self.dirty: set[int] = set()
        self._last_write: dict[int, float] = {}
        self._next_beat = self._next_cancel_poll = self._next_log_drain = 0.0
        self._next_sweep = clock() + self.sweep_interval()

    # --- intervals -------------------------------------------------------------------

    def sweep_interval(self) -> float:
        return sweep_interval(self.setting)

    def log_interval(self) -> float:
        """Seconds between drains of live runs' log lines: one frame per broadcast interval."""
        return float(max(self.setting("BROADCAST_INTERVAL"), MIN_LOG_INTERVAL))

    # --- runs ------------------------------------------------------------------------

    def run_started(self, run_id: int) -> None:
        """A live run: its first heartbeat, cancel poll and log drain are due within an interval."""
        now = self.clock()
        self.live.add(run_id)
        self._next_beat = min(self._next_beat, now + self.setting("HEARTBEAT_INTERVAL"))
        self._next_cancel_poll = min(
            self._next_cancel_poll, now + self.setting("CANCEL_POLL_INTERVAL")
        )
        self._next_log_drain = min(self._next_log_drain, now + self.log_interval())

    def run_ended(self, run_id: int) -> None:
        """The run's tracker finished it: no more heartbeats, polls or drains for it."""
        self.live.discard(run_id)

    # --- states ----------------------------------------------------------------------

    def state_arrived(self, run_id: int, *, final: bool, must_write: bool) -> list[Step]:
        """The steps for a run's newest state, in order."""
        if final:
            return [Step.WRITE]  # broadcast once written (see written())
        if must_write or self._write_due(run_id, self.clock()):
            return [Step.BROADCAST, Step.WRITE]
        self.dirty.add(run_id)
        return [Step.BROADCAST]

    def write_started(self, run_id: int) -> None:
        """A write of the run begins now (the throttle counts from here)."""
        self._last_write[run_id] = self.clock()

    def written(self, run_id: int, outcome: Written, *, final: bool) -> list[Step]:
        """After a write: a final state that landed is broadcast now; a failed one waits."""
        if outcome is Written.FAILED:
            self.dirty.add(run_id)
            return []
        self.dirty.discard(run_id)
        if outcome is Written.GONE or final:
            self._forget(run_id)
        return [Step.BROADCAST] if final and outcome is Written.SAVED else []

    def trailing_due(self, published_at: float) -> bool:
        """A trailing publish respects the broadcast throttle like any other."""
        return self.clock() >= published_at + self.setting("BROADCAST_INTERVAL")

    # --- time ------------------------------------------------------------------------

    def due(self) -> Duties:
        """Everything due now; each periodic duty is then scheduled one interval on."""
        now = self.clock()
        duties = Duties(writes=[run_id for run_id in self.dirty if self._write_due(run_id, now)])
        if not self.live:
            return duties
        if now >= self._next_log_drain:
            self._next_log_drain = now + self.log_interval()
            duties.drain_logs = True
        if now >= self._next_cancel_poll:
            self._next_cancel_poll = now + self.setting("CANCEL_POLL_INTERVAL")
            duties.poll_cancels = True
        if now >= self._next_beat:
            self._next_beat = now + self.setting("HEARTBEAT_INTERVAL")
            duties.beat = True
        if now >= self._next_sweep:
            # Processes that track runs also find other processes' dead runs (workers
            # sweep each other), so no run stays "running" when no server is up.
            self._next_sweep = now + self.sweep_interval()
            duties.sweep = True
        return duties

    def seconds_until_due(self) -> float | None:
        """How long the writer may sleep: None while nothing is live or dirty."""
        if not self.live and not self.dirty:
            return None
        now = self.clock()
        candidates = [self._next_beat, self._next_cancel_poll, self._next_log_drain]
        if not self.live:
            candidates = []
        candidates += [self._write_time(run_id, now) for run_id in self.dirty]
        return max(0.0, min(candidates) - now)

    def _write_due(self, run_id: int, now: float) -> bool:
        return now >= self._write_time(run_id, now)

    def _write_time(self, run_id: int, now: float) -> float:
        """When the run may be written next: DB_INTERVAL after its last write."""
        last = self._last_write.get(run_id)
        return now if last is None else last + self.setting("DB_INTERVAL")

    def _forget(self, run_id: int) -> None:
        self._last_write.pop(run_id, None)
        self.dirty.discard(run_id)
