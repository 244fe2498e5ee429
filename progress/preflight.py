"""Service checks for `manage.py preflight`: one line per unreachable service, no traceback.

Built in: the default database, and Redis behind PROGRESS["CHANNEL_LAYER"] when that layer
uses Redis. A project adds a check, or rephrases one (say, in terms of its environment
variables), by registering a function that returns None or one line; registering a name
that is taken replaces that check:

    from progress import preflight

    preflight.register("channel_layer", my_redis_problem)
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.db import OperationalError, connection

from progress import conf

__all__ = [
    "database_address",
    "database_problem",
    "describe_database_error",
    "first_line",
    "redis_address",
    "redis_ping",
    "register",
]

Check = Callable[[], str | None]
REDIS_PORT = 6379
TIMEOUT = 2.0

_checks: dict[str, Check] = {}


def register(name: str, check: Check) -> None:
    """Run check in preflight under name (replacing the check of that name, if any)."""
    _checks[name] = check


def problems() -> list[str]:
    """One line for each check that failed, in registration order."""
    return [problem for check in _checks.values() if (problem := check())]


def database_problem(
    describe: Callable[[BaseException], str] | None = None,
) -> str | None:
    """None if the default database answers, else one line (by describe) saying what to do."""
    try:
        connection.ensure_connection()
    except OperationalError as exc:
        return (describe or describe_database_error)(exc)
    return None


def describe_database_error(exc: BaseException) -> str:
    """What an OperationalError from the default database means, in one line."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"SQLite database {db['NAME']} cannot be opened ({exc}); check path and permissions."
    return (
        f"DATABASES['default'] ({database_address(db)}) refused: {first_line(exc)}. "
        "Start the database, or fix DATABASES['default']."
    )


def channel_layer_problem() -> str | None:
    """None if PROGRESS["CHANNEL_LAYER"]'s Redis hosts answer (or it uses none)."""
    alias = conf.get("CHANNEL_LAYER")
    layer = getattr(settings, "CHANNEL_LAYERS", {}).get(alias)
    if layer is None:
        return (
            f"CHANNEL_LAYERS has no {alias!r} entry (PROGRESS['CHANNEL_LAYER']); add one "
            "or set PROGRESS['CHANNEL_LAYER'] to an existing alias."
        )
    for host in layer.get("CONFIG", {}).get("hosts", []):
        address = redis_address(host)
        if address is not None and (reason := redis_ping(*address)):
            return (
                f"CHANNEL_LAYERS[{alias!r}] uses Redis at {address[0]}:{address[1]}, which "
                f"{reason}; start redis-server, or fix CHANNEL_LAYERS[{alias!r}]."
            )
    return None


def redis_address(host: Any) -> tuple[str, int] | None:
    """(host, port) of a channels-redis host entry: a URL, a dict, or a (host, port) pair."""
    if isinstance(host, dict):
        host = host.get("address")
    if isinstance(host, str):
        parsed = urlparse(host)
        return parsed.hostname or "127.0.0.1", parsed.port or REDIS_PORT
    if isinstance(host, list | tuple) and len(host) == 2:
        return str(host[0]), int(host[1])
    return None


def redis_ping(host: str, port: int) -> str | None:
    """None if Redis at host:port answers PING, else what went wrong (a sentence's end)."""
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError as exc:
        return f"refused the connection ({exc.strerror or exc})"
    if not reply.startswith((b"+PONG", b"-NOAUTH")):
        return f"answered {reply[:40]!r}, not a Redis PONG"
    return None


def database_address(db: dict[str, Any]) -> str:
    """host:port/name of a DATABASES entry."""
    return f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db.get('NAME')}"


def first_line(exc: BaseException) -> str:
    """An exception's first line (its type's name when it has no message)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


register("database", database_problem)
register("channel_layer", channel_layer_problem)
