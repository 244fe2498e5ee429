"""The WebSocket protocol: message types, close codes and frame limits, in one place.

It imports nothing of Django, so the channel layer can use it before Django is set up.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)


# Server -> client event type for each status (models.Status's values; a test holds the
# two equal). Keyed by plain strings so that this module, the wire's vocabulary, imports
# nothing of Django: the channel layer (progress.layers) uses it without the app set up.
LIVE_EVENT = "progress_update"
EVENT_TYPES: dict[str, str] = {
    "queued": LIVE_EVENT,
    "running": LIVE_EVENT,
    "completed": "task_completed",
    "failed": "task_failed",
    "cancelled": "task_cancelled",
    "stalled": "task_stalled",
}

# The sockets' paths, defined once (progress.routing routes them; the client learns them
# from progress.web.jsconfig): every visible run or one run (WS_PATH, WS_PATH + "<id>/"),
# and the proposal's protocol, no trailing slash.
WS_PATH = "ws/progress/"
SEED_WS_PATH = "ws/progress"

# Close codes. Daphne lets an application close only with 1000 or 3000-4999.
CLOSE_UNAUTHENTICATED = 4001
CLOSE_FORBIDDEN = 4003  # unknown run or not yours: the same code, so ids cannot be probed
CLOSE_RATE_LIMITED = 4008
CLOSE_MESSAGE_TOO_BIG = 4009
CLOSE_SLOW_CLIENT = 4010  # over MAX_SEND_BUFFER_BYTES unsent: the client is not reading
CLOSE_TOO_MANY_SOCKETS = 4029  # the user holds MAX_SOCKETS_PER_USER sockets (every process)
CLOSE_CONNECTING_TOO_FAST = 4030  # over CONNECT_RATE for this user (or anonymous address)

# Largest frame the server sends. Frames are ASCII (json.dumps escapes the rest), so a
# frame's length in characters is its size in bytes. Snapshots and resyncs over it are
# split into parts: {"type": "snapshot", "part": 1, "parts": 3, "operations": [...]}.
MAX_FRAME_BYTES = 64 * 1024
# Room for a list frame's envelope around its runs.
FRAME_ENVELOPE_BYTES = 256
MAX_RUN_BYTES = MAX_FRAME_BYTES - FRAME_ENVELOPE_BYTES
# Characters of error_message kept when a run is too big to send whole.
STRIPPED_ERROR_TEXT = 200

# Every frame type besides the run events (EVENT_TYPES), by role; the JS client gets them
# through progress.web.jsconfig, so no module names them again.
FRAME_TYPES: dict[str, str] = {
    # server -> client
    "snapshot": "snapshot",  # on connect: {"operations": [...], "part", "parts"}
    "resync": "resync",  # the answer to a resync, shaped as a snapshot
    "batch": "batch",  # several runs' event frames in one: {"events": [<event>, ...]}
    "heartbeat": "heartbeat",  # the server is alive (sent on a quiet socket)
    "log": "log",  # a run page's new log lines: {"id", "lines": [...], "skipped"}
    "pong": "pong",  # the answer to a ping
    "error": "error",  # {"message": "what to fix"}; the socket stays open
    # on a ?view=shown socket: counts and new runs matching the page's filters
    "summary": "summary",  # {"active": {status: n}, "new", "more", "ids": [...]}
    # client -> server
    "ping": "ping",  # and "resync" (above): {"since": {"<run id>": <seq>}}
    "show": "show",  # ?view=shown: {"runs": [ids], "filters"?: {...}, "since"?: <run id>}
}

# Server -> client on a socket that has sent nothing for SOCKET_HEARTBEAT_INTERVAL: proof
# that the server is alive, so a page can tell a quiet run from a silent server.
HEARTBEAT_FRAME = f'{{"type":"{FRAME_TYPES["heartbeat"]}"}}'
# A lagging socket's states go in one frame: {"type": "batch", "events": [<event>, ...]},
# each event as it is sent alone (progress.sockets.fanout builds them).
BATCH_PREFIX = f'{{"type":"{FRAME_TYPES["batch"]}","events":['

# The channel-layer message type of a run state: {"type", "id", "seq", "final", "text"}.
# progress.layers keeps the newest per run of these in each channel's queue.
LAYER_EVENT = "progress.event"
# The channel-layer message type of a run's live log lines: {"type", "id", "text"}, sent to
# the run's log group only (dispatched to the consumer's progress_log).
LAYER_LOG = "progress.log"


def is_newer(state: Mapping[str, Any], held: Mapping[str, Any] | None) -> bool:
    """The one ordering rule for a run's states: a state replaces the one held (by a queue,
    a feed, a publisher or a client) only if its seq is higher; nothing held loses."""
    return held is None or held["seq"] < state["seq"]


def fits_in_frame(text: str) -> bool:
    """The one frame-size rule: a text frame the server sends is at most MAX_FRAME_BYTES."""
    return len(text) <= MAX_FRAME_BYTES


# The proposal's protocol (ws/progress, no slash): the event types its client knows. A
# cancelled or stalled run ends there as task_failed; data.status says which it was.
SEED_EVENT_TYPES = ("progress_update", "task_completed", "task_failed")
_SEED_RENAMES = {
    f'{{"type":"{kind}",': '{"type":"task_failed",'
    for kind in EVENT_TYPES.values()
    if kind not in SEED_EVENT_TYPES
}


def encode_event(data: dict[str, Any]) -> str:
    """Encode one run's event frame; done once per broadcast, not once per client."""
    return event_frame(data["status"], encode_run(data))


def event_frame(status: str, run_text: str) -> str:
    """The event frame of a run already encoded by encode_run()."""
    return f'{{"type":"{EVENT_TYPES[status]}","data":{run_text}}}'


def seed_frame(event_text: str) -> str:
    """An event frame as the proposal's protocol has it (only its three event types)."""
    for head, seed_head in _SEED_RENAMES.items():
        if event_text.startswith(head):
            return seed_head + event_text[len(head) :]
    return event_text


def encode_run(data: dict[str, Any]) -> str:
    """One run as JSON of at most MAX_RUN_BYTES; a run that is not is sent without metadata."""
    try:
        text = _dumps(data)
    except (TypeError, ValueError, RecursionError) as exc:
        logger.error("Run %s could not be encoded (%s); sent without metadata.", data["id"], exc)
        return _dumps(_stripped(data))
    if len(text) > MAX_RUN_BYTES:
        logger.error(
            "Run %s encodes to %s bytes, over the %s-byte frame limit; sent without metadata. "
            "Keep its metadata small (progress.serializers summarises it; look for a large key).",
            data["id"],
            len(text),
            MAX_RUN_BYTES,
        )
        return _dumps(_stripped(data))
    return text


def list_frames(kind: str, operations: list[dict[str, Any]]) -> list[str]:
    """A snapshot or resync as frames of at most MAX_FRAME_BYTES, numbered part 1..parts."""
    return list_frames_of(kind, [encode_run(op) for op in operations])


def list_frames_of(kind: str, run_texts: list[str]) -> list[str]:
    """list_frames() of runs already encoded by encode_run()."""
    chunks: list[list[str]] = [[]]
    size = 0
    for text in run_texts:
        if chunks[-1] and size + len(text) + 1 > MAX_RUN_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(text)
        size += len(text) + 1
    parts = len(chunks)
    return [
        f'{{"type":{_dumps(kind)},"part":{part},"parts":{parts},"operations":[{",".join(chunk)}]}}'
        for part, chunk in enumerate(chunks, start=1)
    ]


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str, allow_nan=False)


def _stripped(data: dict[str, Any]) -> dict[str, Any]:
    """data without its metadata and with a short error message: always a small frame."""
    error = str(data.get("error_message") or "")[:STRIPPED_ERROR_TEXT]
    # NaN and infinity are not JSON (a browser's JSON.parse refuses them).
    finite = {
        k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in data.items()
    }
    return {**finite, "metadata": {"truncated_keys": ["metadata"]}, "error_message": error}


def layer_message(data: dict[str, Any]) -> dict[str, Any]:
    """The channel-layer message for one run's state: its id, seq and encoded frame."""
    return {
        "type": LAYER_EVENT,
        "id": data["id"],
        "seq": data["seq"],
        "final": EVENT_TYPES[data["status"]] != LIVE_EVENT,
        "text": encode_event(data),
    }
