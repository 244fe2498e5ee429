"""Reads the consumer needs, each one query, each limited to what the user may see.

Snapshots are also shared: concurrent connects with the same visibility (all staff; one
user's own runs; one run) wait for one query and one encoding (SharedSnapshots).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from progress import conf, protocol
from progress.models import ACTIVE_STATUSES, OperationProgress
from progress.publish import visibility
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
    generation: int
    started: float
    task: asyncio.Future[EncodedSnapshot]


class SharedSnapshots:
    """Single-flight snapshots: connects with the same visibility share one query and encoding.

    A snapshot is shared by every connect that asks while it is being loaded, and reused
    until this process sees the next broadcast (note_broadcast(), fed by the layer through
    watch_broadcasts()) or for at most SNAPSHOT_SHARE_SECONDS. Without that feed (no server
    services, or a layer that cannot watch a group) only connects that overlap share it.
    """

    def __init__(self) -> None:
        self.generation = 0
        self.listening = False
        self.loads = 0
        self._flights: dict[tuple[Any, ...], _Flight] = {}

    def note_broadcast(self) -> None:
        """A run changed: snapshots loaded so far may be stale."""
        self.generation += 1
        if self._flights:
            self._flights = {k: f for k, f in self._flights.items() if not f.task.done()}

    async def get(
        self, key: tuple[Any, ...], load: Callable[[], Coroutine[Any, Any, EncodedSnapshot]]
    ) -> EncodedSnapshot:
        """The shared snapshot for key, loaded by load() if there is no current one."""
        if conf.get("SNAPSHOT_SHARE_SECONDS") <= 0:
            self.loads += 1
            return await load()
        loop = asyncio.get_running_loop()
        flight = self._flights.get(key)
        if flight is None or not self._reusable(flight, loop):
            self.loads += 1
            flight = _Flight(self.generation, time.monotonic(), loop.create_task(load()))
            self._flights[key] = flight
            flight.task.add_done_callback(functools.partial(self._landed, key))
        return await asyncio.shield(flight.task)

    def _reusable(self, flight: _Flight, loop: asyncio.AbstractEventLoop) -> bool:
        task = flight.task
        if task.get_loop() is not loop or flight.generation != self.generation:
            return False
        if not task.done():
            return True
        fresh = time.monotonic() - flight.started <= conf.get("SNAPSHOT_SHARE_SECONDS")
        return self.listening and fresh and self._reusable_result(flight)

    def _landed(self, key: tuple[Any, ...], _task: object = None) -> None:
        flight = self._flights.get(key)
        if flight is not None and not (self.listening and self._reusable_result(flight)):
            del self._flights[key]

    @staticmethod
    def _reusable_result(flight: _Flight) -> bool:
        return not flight.task.cancelled() and flight.task.exception() is None


shared_snapshots = SharedSnapshots()


# Sockets per (event loop, layer) whose snapshots are shared: while there is one, the process
# watches every broadcast (ALL_GROUP) to know when a shared snapshot is stale.
_watch_holders: dict[tuple[asyncio.AbstractEventLoop, Any], int] = {}
_unwatching: set[asyncio.Task[None]] = set()


async def hold_broadcast_watch(layer: Any) -> None:
    """A socket whose snapshot may be shared (all runs, or a user's own) connected.

    Why held, not always on (issue 26): watching ALL_GROUP takes in every state of every run
    from Redis. A process that serves only shown views and run pages, which do not share
    snapshots, then takes in only the runs its sockets show.
    """
    key = (asyncio.get_running_loop(), layer)
    _watch_holders[key] = _watch_holders.get(key, 0) + 1
    if _watch_holders[key] == 1:
        try:
            await watch_broadcasts(layer)
        except BaseException:
            # Not watching: the next socket to hold it tries again (this one still releases
            # its hold, which then only counts down).
            _watch_holders[key] = 0
            raise


def release_broadcast_watch(layer: Any) -> None:
    """That socket closed; the last one stops the watch."""
    loop = asyncio.get_running_loop()
    key = (loop, layer)
    left = _watch_holders.get(key, 0) - 1
    if left > 0:
        _watch_holders[key] = left
        return
    _watch_holders.pop(key, None)
    # Stale from now on: no snapshot loaded before is reused once the watch is gone.
    shared_snapshots.listening = False
    shared_snapshots.note_broadcast()
    unwatch = getattr(layer, "unwatch_group", None)
    if unwatch is not None:
        task = loop.create_task(unwatch(visibility.ALL_GROUP, _note_broadcast))
        _unwatching.add(task)  # held until done: the loop keeps only a weak reference
        task.add_done_callback(_unwatching.discard)


async def watch_broadcasts(layer: Any) -> bool:
    """Have layer report every broadcast to shared_snapshots (all of them go to ALL_GROUP).

    Needs a layer with watch_group() (progress.layers); with others, such as the in-memory
    layer, a snapshot is shared only by connects that overlap its query. False then.
    """
    shared_snapshots.listening = False
    watch = getattr(layer, "watch_group", None)
    if watch is None:
        return False
    await watch(visibility.ALL_GROUP, _note_broadcast)
    shared_snapshots.note_broadcast()
    shared_snapshots.listening = True
    return True


def _note_broadcast(message: dict[str, Any]) -> None:
    if message.get("type") == protocol.LAYER_EVENT:
        shared_snapshots.note_broadcast()
