"""One-line diagnoses for unreachable services, instead of a 60-line traceback."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from django.conf import settings
from django.db import OperationalError, connection


def database_problem() -> str | None:
    """None if the database answers, else one line saying what to do."""
    try:
        connection.ensure_connection()
    except OperationalError as exc:
        return describe_database_error(exc)
    return None


def describe_database_error(exc: BaseException) -> str:
    db = settings.DATABASES["default"]
    where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db.get('NAME')}"
    if db["ENGINE"].endswith("sqlite3"):
        return f"SQLite database {db['NAME']} cannot be opened ({exc}); check path and permissions."
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (
        f"DATABASE_URL points at PostgreSQL {where}, which refused: {first_line}. "
        "Start PostgreSQL, fix DATABASE_URL, or unset it to use the embedded SQLite."
    )


def redis_problem() -> str | None:
    """None if REDIS_URL is unset or Redis answers, else one line saying what to do."""
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return None
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError as exc:
        return (
            f"REDIS_URL is set but Redis at {host}:{port} refused the connection "
            f"({exc.strerror or exc}); start redis-server, or unset REDIS_URL (in-memory layer)."
        )
    if not reply.startswith((b"+PONG", b"-NOAUTH")):
        return (
            f"REDIS_URL {host}:{port} answered {reply[:40]!r}, not a Redis PONG; check REDIS_URL."
        )
    return None
