"""Sockets that show some runs: live states of those runs only, plus a bounded summary.

Why (issue 26): a socket of ws/progress/ joins its user's group (a staff user's is every
run), so a list showing 20 rows received every state of every run, and every serving process
subscribed in Redis to every run as soon as one staff socket was open. A socket opened with
?view=shown (the list page, the admin list, <progress-operation> elements) joins nothing
until its client says what is on screen:

    {"type": "show", "runs": [12, 15], "filters": {"status": "", "q": "", "failures": false},
     "since": 15}

It then receives the states of those runs only. Each run's own group is joined once per
process by the fan-out (progress.sockets.fanout), so a process subscribes in Redis only to the
runs its sockets show: its inbound traffic follows its viewers, not the number of runs. With
"filters", it also gets a summary when it changes, at most every SOCKET_SUMMARY_INTERVAL:

    {"type": "summary", "active": {"queued": 1, "running": 3}, "new": 2, "more": false,
     "ids": [17, 16]}

"active" counts the matching runs in progress, "new" the matching runs newer than "since"
(at most MAX_NEW_COUNTED, then "more" is true) and "ids" the newest of them, so the page can
show them. The summary is one query per distinct (visibility, filters) per process and
interval, however many sockets share it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from channels.db import database_sync_to_async
from django.db.models import Count

from progress import conf, protocol
from progress.models import ACTIVE_STATUSES, OperationProgress
from progress.web.listing import PAGE_SIZE, RunFilters, matching_runs

logger = logging.getLogger(__name__)

# New runs a summary counts; past it the page says "100+ new runs".
MAX_NEW_COUNTED = 100
# New run ids a summary lists, newest first: a page's worth.
SUMMARY_IDS = PAGE_SIZE


class Watcher(Protocol):
    """What the summary needs of a socket's consumer."""

    user: Any
    summary_since: int
    last_summary: str | None

    async def send(self, text_data: str | None = None) -> None: ...


@dataclass(frozen=True)
class SummaryKey:
    """Sockets with the same key share one summary query: who sees what, and the filters."""

    visibility: tuple[Any, ...]
    filters: RunFilters


@dataclass(frozen=True)
class Summary:
    active: dict[str, int]
    new_ids: tuple[int, ...]  # newest first, at most MAX_NEW_COUNTED + 1


def parse_show(content: dict[str, Any]) -> tuple[list[int], RunFilters | None, int] | str:
    """A show message as (run ids, filters or None, since), or what to fix."""
    runs = content.get("runs", [])
    limit = conf.get("MAX_SHOWN_RUNS")
    if not isinstance(runs, list) or not all(_is_id(run) for run in runs):
        return 'show needs "runs": a list of run ids (positive integers).'
    if len(runs) > limit:
        return f"show names {len(runs)} runs; at most {limit} are allowed."
    since = content.get("since", 0)
    if not _is_id(since) and since != 0:
        return 'show\'s "since" must be the newest run id the page knows (or 0).'
    raw = content.get("filters")
    if raw is None:
        return list(dict.fromkeys(runs)), None, since
    if not isinstance(raw, dict):
        return 'show\'s "filters" must be an object: {"status", "q", "failures"}.'
    filters = RunFilters.from_query({key: str(raw.get(key) or "") for key in ("status", "q")})
    filters = RunFilters(status=filters.status, q=filters.q, failures=raw.get("failures") is True)
    return list(dict.fromkeys(runs)), filters, since


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def summary_frame(summary: Summary, since: int) -> str:
    """One socket's summary: the counts, and the new runs newer than what it knows."""
    new = [pk for pk in summary.new_ids[:MAX_NEW_COUNTED] if pk > since]
    more = len(summary.new_ids) > MAX_NEW_COUNTED and len(new) == MAX_NEW_COUNTED
    return json.dumps(
        {
            "type": protocol.FRAME_TYPES["summary"],
            "active": summary.active,
            "new": len(new),
            "more": more,
            "ids": new[:SUMMARY_IDS],
        },
        separators=(",", ":"),
    )


def load_summaries(requests: list[tuple[SummaryKey, Any, int]]) -> dict[SummaryKey, Summary]:
    """Each key's summary (two queries each) for (key, a user with it, the lowest since)."""
    summaries = {}
    for key, user, since in requests:
        runs = matching_runs(OperationProgress.objects.visible_to(user), key.filters).order_by()
        active = runs.filter(status__in=ACTIVE_STATUSES).values_list("status")
        counts = {status: n for status, n in active.annotate(n=Count("pk"))}
        newer = runs.filter(pk__gt=since).order_by("-pk").values_list("pk", flat=True)
        summaries[key] = Summary(
            active={status: counts.get(status, 0) for status in ACTIVE_STATUSES},
            new_ids=tuple(newer[: MAX_NEW_COUNTED + 1]),
        )
    return summaries


class SummaryBoard:
    """This event loop's sockets that want summaries, by key, and the task that sends them."""

    def __init__(self) -> None:
        self.members: dict[SummaryKey, dict[Watcher, None]] = {}
        self._keys: dict[Watcher, SummaryKey] = {}
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0

    def join(self, key: SummaryKey, watcher: Watcher) -> None:
        """watcher gets key's summaries from now on (and no other key's)."""
        if self._keys.get(watcher) != key:
            self.leave(watcher)
            self.members.setdefault(key, {})[watcher] = None
            self._keys[watcher] = key
            watcher.last_summary = None  # new filters: the first summary always goes out
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def leave(self, watcher: Watcher) -> None:
        key = self._keys.pop(watcher, None)
        if key is not None:
            members = self.members.get(key, {})
            members.pop(watcher, None)
            if not members:
                self.members.pop(key, None)

    async def _run(self) -> None:
        while self.members:
            try:
                await self.send_round()
            except Exception:  # the database is down: the next round tries again
                logger.warning("Could not send run summaries", exc_info=True)
            await asyncio.sleep(conf.get("SOCKET_SUMMARY_INTERVAL"))

    async def send_round(self) -> None:
        """One query per key, then each socket its summary if it changed."""
        self.rounds += 1
        requests = [
            (key, next(iter(members)).user, min(m.summary_since for m in members))
            for key, members in self.members.items()
            if members
        ]
        summaries = await database_sync_to_async(load_summaries)(requests)
        for key, summary in summaries.items():
            for watcher in list(self.members.get(key, ())):
                frame = summary_frame(summary, watcher.summary_since)
                if frame == watcher.last_summary:
                    continue
                watcher.last_summary = frame
                try:
                    await watcher.send(text_data=frame)
                except Exception:  # the socket is closing; it leaves the board
                    logger.debug("Could not send a summary", exc_info=True)


_boards: dict[asyncio.AbstractEventLoop, SummaryBoard] = {}


def summary_board() -> SummaryBoard:
    """The running loop's board (tests run many loops in one process)."""
    loop = asyncio.get_running_loop()
    board = _boards.get(loop)
    if board is None:
        for closed in [key for key in _boards if key.is_closed()]:
            del _boards[closed]
        board = _boards[loop] = SummaryBoard()
    return board
