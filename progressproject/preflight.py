"""The project's preflight lines, in terms of its environment (DATABASE_URL, REDIS_URL).

Registered with progress.preflight (progressproject/checks.py) under the app's names, so
`manage.py preflight` says which variable to fix; manage.py uses describe_database_error
for any command that cannot reach the database.
"""

from __future__ import annotations

from django.conf import settings

from progress import preflight
from progress.preflight import database_address, first_line, redis_address, redis_ping


def database_problem() -> str | None:
    """None if the database answers, else one line naming DATABASE_URL."""
    return preflight.database_problem(describe_database_error)


def describe_database_error(exc: BaseException) -> str:
    """The app's line for SQLite; for PostgreSQL, which variable to fix."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return preflight.describe_database_error(exc)
    return (
        f"DATABASE_URL points at PostgreSQL {database_address(db)}, which refused: "
        f"{first_line(exc)}. Start PostgreSQL, fix DATABASE_URL, or unset it to use the "
        "embedded SQLite."
    )


def redis_problem() -> str | None:
    """None if REDIS_URL is unset or Redis answers, else one line saying what to do."""
    url = getattr(settings, "REDIS_URL", "")
    address = redis_address(url) if url else None
    if address is None:
        return None
    host, port = address
    reason = redis_ping(host, port)
    if reason is None:
        return None
    if reason.startswith("refused"):
        return (
            f"REDIS_URL is set but Redis at {host}:{port} {reason}; start redis-server, "
            "or unset REDIS_URL (in-memory layer)."
        )
    return f"REDIS_URL {host}:{port} {reason}; check REDIS_URL."
