"""The project's ASGI application plus a bench-only counter of database queries.

daphne serves `bench_asgi:application`: every request and WebSocket goes to
`progressproject.asgi.application` unchanged; only GET /__bench__/stats is answered here
with the number of SQL statements Django executed in this process so far. The counter is
an execute wrapper installed on every database connection this process opens (any thread),
so it counts exactly the statements the app sends, including session and user lookups.

With progress.layers' pub/sub layer, the stats also say what this process takes in from
Redis (bench_shown.py, issue 26's "Redis inbound per serving process"): "redis_in" counts
the messages read from Redis since start, by kind of channel (a run's own group
progress.op.<id>, the all-runs group, the rest), one counter increment per message; and
"subscribed" counts the channels this process's layers are subscribed to now, by the
same kinds.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "progressproject.settings")

from django.db.backends.signals import connection_created

from progressproject.asgi import application as project_application

_lock = threading.Lock()
_counts = {"queries": 0, "connections": 0}


def _count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    with _lock:
        _counts["queries"] += 1
    return execute(sql, params, many, context)


def _on_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    with _lock:
        _counts["connections"] += 1
    if _count not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count)


connection_created.connect(_on_connection)

# Messages read from Redis by this process's pub/sub layers, by kind of channel.
_redis_in = {"run_groups": 0, "all_group": 0, "other": 0}


def _channel_kind(name: str) -> str:
    if "__group__progress.op." in name:
        return "run_groups"
    if name.endswith("__group__progress.all"):
        return "all_group"
    return "other"


def _count_redis_in() -> None:
    """Count each message progress.layers' shard connection reads (a revision without it,
    served as a baseline, is left as it is)."""
    try:
        from progress.layers import BoundedShardConnection
    except ImportError:
        return
    receive = BoundedShardConnection._receive_message

    def counted(self: Any, message: Any) -> None:
        if message is not None:
            name = message["channel"]
            kind = _channel_kind(name.decode() if isinstance(name, bytes) else name)
            _redis_in[kind] += 1
        receive(self, message)

    BoundedShardConnection._receive_message = counted  # type: ignore[method-assign]


def _subscribed() -> dict[str, int]:
    """Channels this process's pub/sub layers are subscribed to in Redis now, by kind."""
    from channels.layers import get_channel_layer

    counts = {"run_groups": 0, "all_group": 0, "other": 0}
    layer = get_channel_layer()
    for loop_layer in list(getattr(layer, "_layers", {}).values()):
        for shard in getattr(loop_layer, "_shards", ()):
            for name in list(getattr(shard, "_subscribed_to", ())):
                counts[_channel_kind(name)] += 1
    return counts


_count_redis_in()

# What-if experiments (BENCH_WHATIF=dispatch,serializer): the fixes docs/benchmarks.md
# suggests, applied by monkeypatching in this process only, to measure what they would buy.
_whatif = set(filter(None, os.environ.get("BENCH_WHATIF", "").split(",")))
if "autobahn-framing" in _whatif:
    # Before issue 26's tuning: every socket's frame built by daphne and autobahn.
    import progress.daphne_tuning

    progress.daphne_tuning.FRAME_TEXTS_ONCE = False
if (
    "dispatch" in _whatif
    and "dispatch"
    not in importlib.import_module("progress.sockets.consumers").ProgressConsumer.__dict__
):
    from progress.protocol import LAYER_EVENT
    from progress.sockets.consumers import ProgressConsumer

    _dispatch = ProgressConsumer.dispatch

    async def _dispatch_without_db_hop(self: Any, message: dict[str, Any]) -> None:
        # channels' AsyncConsumer.dispatch runs close_old_connections in the shared
        # sync thread before every handler; forwarding a frame touches no database.
        if message["type"] == LAYER_EVENT:
            await self.progress_event(message)
            return
        await _dispatch(self, message)

    ProgressConsumer.dispatch = _dispatch_without_db_hop  # type: ignore[method-assign]
if "serializer" in _whatif:
    import whatif

    whatif.cache_serializer_fields()
if "twisted-write-through" in _whatif:
    import whatif

    whatif.twisted_write_through()
if _whatif & {"channels-auth", "connect-hop", "subscribe-channel", "autobahn-debug"}:
    import levers

    levers.undo(_whatif, project_application)


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http" and scope.get("path") == "/__bench__/stats":
        with _lock:
            stats = {**_counts, "pid": os.getpid(), "redis_in": dict(_redis_in)}
        stats["subscribed"] = _subscribed()
        body = json.dumps(stats).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    await project_application(scope, receive, send)
