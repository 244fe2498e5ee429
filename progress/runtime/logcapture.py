"""Live run logs: log records emitted while a tracked block runs are attached to its run.

track_operation() puts the run's RunLog in a context variable for the block. One handler
on the root logger (RunLogHandler, installed once) looks the variable up for each record
and, inside a block, keeps time, level, logger and a bounded message in the run's queue.
The writer thread drains the queue: it broadcasts new lines to the run's own group and
stores them in OperationLogLine, keeping the newest PROGRESS["LOG_LINES"] per run.

Context, not threads, decides which run a record belongs to. asyncio tasks and
contextvars.copy_context() inherit it; a plain threading.Thread does NOT (its target runs
in an empty context), so start threads with run_in_context():

    with track_operation("import") as tracker:
        threading.Thread(target=run_in_context(work, rows)).start()

Levels. Inside a block, records at PROGRESS["LOG_LEVEL"] (INFO) and above are captured
from every logger whose level comes from the root logger, even while the root logger is
at Python's default WARNING; the host's own handlers still get exactly what they got
before (see _is_enabled_for). A logger the host gave a level of its own (or one above it)
keeps it: "django.db.backends" at WARNING stays quiet in runs too. A logger that does not
propagate to the root logger is not captured.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import itertools
import json
import logging
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

from progress import conf, protocol

# Characters kept of one record's message (with its exception line) and of its logger name.
MAX_MESSAGE_CHARS = 500
MAX_LOGGER_CHARS = 100
# The progress app's own threads: their records are never a run's (and must not loop back).
OWN_THREADS = frozenset({"progress-writer", "progress-publisher"})


class LogLine(NamedTuple):
    """One captured record, as queued for the writer."""

    number: int  # 1-based per run, in emission order
    created: float  # time.time() of the record
    level: int
    logger: str
    message: str


class RunLog:
    """A run's captured lines waiting for the writer: bounded, and never a lock on emit."""

    __slots__ = ("__weakref__", "_numbers", "level", "pending", "run_id", "total")

    def __init__(self, run_id: int, *, level: int, limit: int) -> None:
        self.run_id = run_id
        self.level = level
        # deque.append/popleft are atomic: emitting threads never wait for the writer. When
        # the writer falls behind, the oldest lines fall out (storage keeps the newest only).
        self.pending: deque[LogLine] = deque(maxlen=max(1, limit))
        self._numbers = itertools.count(1)
        self.total = 0

    def add(self, record: logging.LogRecord) -> None:
        """Queue one record (called by the handler on the emitting thread)."""
        number = next(self._numbers)
        if number > self.total:
            self.total = number
        self.pending.append(
            LogLine(
                number,
                record.created,
                record.levelno,
                record.name[:MAX_LOGGER_CHARS],
                record_text(record),
            )
        )

    def take(self) -> list[LogLine]:
        """Every queued line, oldest first, leaving the queue empty (writer thread)."""
        lines = []
        with contextlib.suppress(IndexError):
            while True:
                lines.append(self.pending.popleft())
        return lines


_current: contextvars.ContextVar[RunLog | None] = contextvars.ContextVar(
    "progress_run_log", default=None
)
_guard = threading.local()


class RunLogHandler(logging.Handler):
    """Attaches records to the run in the current context; does nothing outside one."""

    def handle(self, record: logging.LogRecord) -> bool:
        """Skip Handler's lock and filters: RunLog.add is thread-safe and this is hot."""
        sink = _current.get()
        if sink is None:
            last = logging.lastResort
            if last is not None and record.levelno >= last.level:
                _keep_last_resort(record)
            return False
        if record.levelno < sink.level or record.threadName in OWN_THREADS:
            return False
        if getattr(_guard, "active", False):
            return False  # a record logged while formatting one (a logging __str__)
        _guard.active = True
        try:
            sink.add(record)
        except Exception:
            self.handleError(record)
        finally:
            _guard.active = False
        return True

    def emit(self, record: logging.LogRecord) -> None:
        """See handle()."""
        self.handle(record)


def _keep_last_resort(record: logging.LogRecord) -> None:
    """Print the record as Python would have if this handler were not on the root logger.

    logging.lastResort only prints when no handler at all is found for a record; being
    on the root logger, this handler would otherwise silence unconfigured loggers' warnings.
    """
    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        if any(not isinstance(h, RunLogHandler) for h in logger.handlers):
            return
        logger = logger.parent if logger.propagate else None
    if logging.lastResort is not None:
        logging.lastResort.handle(record)


def record_text(record: logging.LogRecord) -> str:
    """The record's message, with its exception's last line, cut to MAX_MESSAGE_CHARS."""
    try:
        text = record.getMessage()
    except Exception as exc:  # a bad format string must not break the pipeline
        text = f"{record.msg!r} (unformattable: {type(exc).__name__})"
    if record.exc_info and record.exc_info[1] is not None:
        text += " | " + "".join(traceback.format_exception_only(record.exc_info[1])).strip()
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL


_handler = RunLogHandler()

# --- capturing below the host's levels -----------------------------------------------
#
# Python's root logger is at WARNING unless configured, and a logger without a level of
# its own inherits that: logger.info() is dropped by Logger.isEnabledFor() before any
# handler runs, so a run would never see its own INFO lines. Lowering the root logger's
# level while a block runs would let them through, but it would also change what the
# host prints: a handler at NOTSET on the root logger (or on a parent logger) would start
# printing INFO from every thread. So instead, when the host opts in with
# PROGRESS["LOG_CAPTURE_BELOW_HOST_LEVELS"] (a process-wide patch is the host's choice, as
# tune_daphne() is), two Logger methods are wrapped, once:
#
# - isEnabledFor(level) is also true inside a tracked block when level >= the run's
#   LOG_LEVEL and the logger's level comes from the root logger (no logger between it
#   and the root has a level set); logging.disable() and logger.disabled still win;
# - callHandlers(record) gives a record that the host's levels would have dropped to
#   RunLogHandler only; every other record goes the usual way, to every handler.
#
# The host's handlers therefore see exactly the records they saw before. Outside a block
# the cost is one context-variable read on a call that was already below the level.
# The one difference: a record below its logger's level passed by hand to logger.handle()
# inside a tracked block (no logging call does that) goes to the run only.

_host_is_enabled_for = logging.Logger.isEnabledFor
_host_call_handlers = logging.Logger.callHandlers


def _level_from_root(logger: logging.Logger) -> bool:
    """True when no logger from this one up to the root has a level of its own."""
    node: logging.Logger | None = logger
    while node is not None and node.parent is not None:
        if node.level != logging.NOTSET:
            return False
        node = node.parent
    return True


def _propagates_to_root(logger: logging.Logger) -> bool:
    node: logging.Logger | None = logger
    while node is not None and node.parent is not None:
        if not node.propagate:
            return False
        node = node.parent
    return True


def _capture_only(logger: logging.Logger, level: int) -> bool:
    """A record the host drops but the run in this context wants (see above)."""
    sink = _current.get()
    return (
        sink is not None
        and level >= sink.level
        and not logger.disabled
        and logger.manager.disable < level
        and _level_from_root(logger)
    )


def _is_enabled_for(self: logging.Logger, level: int) -> bool:
    return _host_is_enabled_for(self, level) or _capture_only(self, level)


def _call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
    level = record.levelno
    if _host_is_enabled_for(self, level) or not _capture_only(self, level):
        _host_call_handlers(self, record)
    elif _propagates_to_root(self):
        _handler.handle(record)


def install() -> None:
    """Put the handler on the root logger, once; wrap the level checks if the host opted in.

    Without the opt-in a run gets the records its loggers' levels let through (set the
    pipeline's loggers to INFO in LOGGING, as the demo project does for "curation").
    """
    root = logging.getLogger()
    if _handler not in root.handlers:
        root.addHandler(_handler)
    if not conf.get("LOG_CAPTURE_BELOW_HOST_LEVELS"):
        return
    if logging.Logger.isEnabledFor is not _is_enabled_for:
        logging.Logger.isEnabledFor = _is_enabled_for  # type: ignore[method-assign]
        logging.Logger.callHandlers = _call_handlers  # type: ignore[method-assign]


def new_run_log(run_id: int) -> RunLog:
    """A RunLog for a run, with the configured level and bound."""
    level = conf.get("LOG_LEVEL")
    if isinstance(level, str):
        level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    return RunLog(run_id, level=int(level), limit=conf.get("LOG_LINES"))


@contextlib.contextmanager
def capturing(run_log: RunLog) -> Iterator[RunLog]:
    """Attach records emitted in this context (and contexts copied from it) to run_log."""
    install()
    token = _current.set(run_log)
    try:
        yield run_log
    finally:
        _current.reset(token)


def current_run_log() -> RunLog | None:
    """The RunLog of the tracked block this code runs in, if any."""
    return _current.get()


def run_in_context[**P, R](
    fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs
) -> Callable[[], R]:
    """fn(*args, **kwargs) bound to a copy of the caller's context, for a Thread target.

    threading.Thread does not inherit context variables, so without this a thread started
    inside a tracked block logs to no run. Call the result once (one copy, one thread).
    """
    return functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)


# --- the wire shape, once for the API, the text download and live frames ---------------


def line_data(number: int, created: datetime, level: int, logger: str, message: str) -> dict:
    """One line as the API and live frames carry it."""
    return {
        "number": number,
        "time": created.isoformat().replace("+00:00", "Z"),
        "level": logging.getLevelName(level),
        "logger": logger,
        "message": message,
    }


def queued_line_data(line: LogLine) -> dict[str, Any]:
    """A queued LogLine in its wire shape."""
    created = datetime.fromtimestamp(line.created, UTC)
    return line_data(line.number, created, line.level, line.logger, line.message)


def line_text(data: dict[str, Any]) -> str:
    """One line of the text download."""
    return f"{data['time']} {data['level']:<8} {data['logger']}: {data['message']}"


def log_frame(run_id: int, lines: list[LogLine]) -> str | None:
    """The live frame for new lines: the newest that fit in protocol.MAX_FRAME_BYTES.

    {"type":"log","id":12,"lines":[...],"skipped":3}: "skipped" counts older lines of this
    batch left out (the page fetches them from the API if it wants them).
    """
    budget = protocol.MAX_FRAME_BYTES - protocol.FRAME_ENVELOPE_BYTES
    encoded: list[str] = []
    for line in reversed(lines):
        text = json.dumps(queued_line_data(line), separators=(",", ":"))
        budget -= len(text) + 1
        if budget < 0:
            break
        encoded.append(text)
    if not encoded:
        return None
    skipped = len(lines) - len(encoded)
    body = ",".join(reversed(encoded))
    kind = protocol.FRAME_TYPES["log"]
    return f'{{"type":"{kind}","id":{int(run_id)},"lines":[{body}],"skipped":{skipped}}}'
