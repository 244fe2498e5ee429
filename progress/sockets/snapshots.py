"""Reads the consumer needs, each one query, each limited to what the user may see.

Snapshots are also shared: connects with the same visibility (all staff; one user's own
runs; one run) within SNAPSHOT_SHARE_SECONDS wait for one query and one encoding
(SharedSnapshots), and get what changed since from their group's feed.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from time import monotonic
from typing import Any

from django.db.models import Q

from progress import conf, protocol
from progress.models import ACTIVE_STATUSES, OperationProgress
from progress.serializers import operation_data

MAX_ACTIVE_IN_SNAPSHOT = 500


def snapshot_for(user: Any, *, operation_id: int | None = None) -> list[dict[str, Any]]:
    """Active runs plus the most recent finished ones (or just one run) visible to user."""
    visible = OperationProgress.objects.visible_to(user)
    if operation_id is not None:
        return [operation_data(op) for op in visible.filter(pk=operation_id)]
    recent_ids = visible.exclude(status__in=ACTIVE_STATUSES).values("pk")[
        : conf.get("SNAPSHOT_RECENT")
    ]
    rows = visible.filter(Q(status__in=ACTIVE_STATUSES) | Q(pk__in=recent_ids))
    return [operation_data(op) for op in rows[:MAX_ACTIVE_IN_SNAPSHOT]]


def newer_than(
    user: Any, since: dict[int, int], *, operation_id: int | None = None
) -> list[dict[str, Any]]:
    """Runs the client holds at an older seq, plus visible runs it does not know yet."""
    current = snapshot_for(user, operation_id=operation_id)
    known = {op["id"] for op in current}
    missing = [pk for pk in since if pk not in known]
    if missing and operation_id is None:
        # Runs the client follows that fell out of the snapshot window (finished long ago).
        visible = OperationProgress.objects.visible_to(user).filter(pk__in=missing)
        current += [operation_data(op) for op in visible]
    return [op for op in current if op["seq"] > since.get(op["id"], -1)]


def among(user: Any, run_ids: list[int], since: dict[int, int]) -> list[dict[str, Any]]:
    """The runs of run_ids that user may see, where newer than the seq since holds."""
    visible = OperationProgress.objects.visible_to(user).filter(pk__in=run_ids)
    current = [operation_data(op) for op in visible]
    return [op for op in current if op["seq"] > since.get(op["id"], -1)]


def visible_among(user: Any, run_ids: list[int]) -> list[int]:
    """The ids of run_ids that user may see."""
    visible = OperationProgress.objects.visible_to(user).filter(pk__in=run_ids)
    return list(visible.values_list("pk", flat=True))


def is_visible(user: Any, operation_id: int) -> bool:
    return OperationProgress.objects.visible_to(user).filter(pk=operation_id).exists()


@dataclass(frozen=True)
class EncodedSnapshot:
    """A snapshot ready to send: its frames, the seq of every run in it, and the same runs
    as the proposal's protocol sends them (one event frame each)."""

    frames: list[str]
    seqs: dict[int, int]
    seed_frames: list[str]


def encoded_snapshot(user: Any, *, operation_id: int | None = None) -> EncodedSnapshot:
    """snapshot_for() encoded into frames of at most MAX_FRAME_BYTES (one query)."""
    operations = snapshot_for(user, operation_id=operation_id)
    texts = [protocol.encode_run(op) for op in operations]
    return EncodedSnapshot(
        frames=protocol.list_frames_of("snapshot", texts),
        seqs={op["id"]: op["seq"] for op in operations},
        seed_frames=[
            protocol.seed_frame(protocol.event_frame(op["status"], text))
            for op, text in zip(operations, texts, strict=True)
        ],
    )


@dataclass
class _Flight:
    started: float  # time.monotonic() when the load began: the snapshot is at least this new
    task: asyncio.Future[EncodedSnapshot]


class SharedSnapshots:
    """Single-flight snapshots: connects with the same visibility share one query and encoding.

    A snapshot is shared by every connect that asks within SNAPSHOT_SHARE_SECONDS of its
    load's start, whatever changed since: the socket's group feed holds every state it took
    in since then (progress.sockets.fanout.GroupFeed.recent), and the consumer sends those
    after the snapshot. That needs the feed to have been joined before the load started
    (not_before); a snapshot older than the feed is not shared.

    Why not reload after every change (as before issue 25's storm figure): with runs updating
    at 10 Hz, each change ended sharing, and a storm of 1,000 connects ran 50 snapshot
    queries instead of about one per second (bench figure S2).
    """

    def __init__(self) -> None:
        self.loads = 0
        self._flights: dict[tuple[Any, ...], _Flight] = {}
        self._prune_at = 0.0

    async def get(
        self,
        key: tuple[Any, ...],
        load: Callable[[], Coroutine[Any, Any, EncodedSnapshot]],
        *,
        not_before: float = float("-inf"),
    ) -> tuple[EncodedSnapshot, float]:
        """The shared snapshot for key and when its load started; loaded by load() unless
        a load started at or after not_before, within SNAPSHOT_SHARE_SECONDS, can serve."""
        loop = asyncio.get_running_loop()
        if conf.get("SNAPSHOT_SHARE_SECONDS") <= 0:
            self.loads += 1
            started = monotonic()
            return await load(), started
        if monotonic() >= self._prune_at:
            self.forget_stale()
        flight = self._flights.get(key)
        if flight is None or not self._reusable(flight, loop, not_before):
            self.loads += 1
            flight = _Flight(monotonic(), loop.create_task(load()))
            self._flights[key] = flight
            flight.task.add_done_callback(functools.partial(self._landed, key, flight))
        return await asyncio.shield(flight.task), flight.started

    def _reusable(
        self, flight: _Flight, loop: asyncio.AbstractEventLoop, not_before: float
    ) -> bool:
        task = flight.task
        if task.get_loop() is not loop or flight.started < not_before:
            return False
        if not task.done():
            return True
        fresh = monotonic() - flight.started <= conf.get("SNAPSHOT_SHARE_SECONDS")
        return fresh and self._reusable_result(flight)

    def _landed(self, key: tuple[Any, ...], flight: _Flight, _task: object = None) -> None:
        if self._flights.get(key) is flight and not self._reusable_result(flight):
            del self._flights[key]

    def forget_stale(self) -> None:
        """Drop snapshots too old to share: one per visibility (each run page's run is one)
        would pile up. Done by get() at most once per SNAPSHOT_SHARE_SECONDS."""
        now = monotonic()
        share = conf.get("SNAPSHOT_SHARE_SECONDS")
        self._prune_at = now + share
        self._flights = {
            key: flight
            for key, flight in self._flights.items()
            if not flight.task.done() or now - flight.started <= share
        }

    @staticmethod
    def _reusable_result(flight: _Flight) -> bool:
        return not flight.task.cancelled() and flight.task.exception() is None


shared_snapshots = SharedSnapshots()
