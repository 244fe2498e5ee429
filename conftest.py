"""Test configuration shared by every app: real services, fail-not-skip under CI."""

from __future__ import annotations

import functools
import inspect
import os
import socket
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import pytest

# The service tier (pytest -m service): tests that need PostgreSQL, Redis or Chromium
# (their markers), or that start processes (commands, daphne, db_worker, redis-server).
# A test starts processes if its code, a fixture's, or a helper of its module it calls
# names one of these; and the slow in-process load tests below. Everything else is the
# fast tier: pytest -m "not service".
SERVICE_MARKERS = ("postgres", "redis", "browser")
# In-process load tests (a million rows, thousands of connects, schema fuzzing): seconds to
# minutes each, so they go with the service tier, marked slow as well.
SLOW_TESTS = frozenset(
    {
        "test_streaming_a_million_row_file_keeps_memory_flat",
        "test_thousands_of_connects_and_disconnects_leave_no_groups_behind",
        "test_random_frames_get_errors_or_a_clean_close_and_never_hurt_others",
        "test_fuzzing_the_api_from_its_schema_finds_no_server_errors",
        "test_a_run_logging_100000_lines_keeps_log_lines_stored_and_counts_the_rest",
        "test_a_large_upload_with_a_250_character_extension_is_not_a_500",
        "test_ten_thousand_rows_import_in_batches_with_live_progress",
    }
)
SPAWN_HINTS = ("subprocess", "Popen", "manage(", "LiveStack", "RedisServer", "daphne", "chromium")


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def pytest_configure(config: pytest.Config) -> None:
    """SQLite (the fast tier): answer the JSON-field feature check without a query.

    progressproject.asgi runs the system checks when imported, and on SQLite the JSONField
    check asks the database, which pytest-django refuses while it collects test modules.
    Python's SQLite has JSON built in, so the answer is known.
    """
    from django.apps import apps
    from django.db import connections

    if not apps.ready:
        return
    for connection in connections.all():
        if connection.vendor == "sqlite":
            connection.features.supports_json_field = True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the service tier; skip tests whose service is missing (under CI=true they fail)."""
    for item in items:
        if getattr(item, "originalname", item.name) in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.service)
        elif _needs_services(item):
            item.add_marker(pytest.mark.service)
    if os.environ.get("CI") == "true":
        return
    missing = {
        "postgres": not os.environ.get("DATABASE_URL", "").startswith("postgres")
        or not _reachable(os.environ["DATABASE_URL"], 5432),
        "redis": not os.environ.get("REDIS_URL") or not _reachable(os.environ["REDIS_URL"], 6379),
        "browser": not Path(os.environ.get("CHROMIUM", "/usr/bin/chromium")).exists(),
    }
    for item in items:
        for marker, is_missing in missing.items():
            if is_missing and marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=f"{marker} not configured or not running"))


def _needs_services(item: pytest.Item) -> bool:
    if any(marker in item.keywords for marker in SERVICE_MARKERS):
        return True
    function = getattr(item, "function", None)
    if function is None:
        return False
    fixtures = getattr(item, "_fixtureinfo", None)
    definitions = fixtures.name2fixturedefs.values() if fixtures is not None else []
    functions = [function, *(d[-1].func for d in definitions if d)]
    return any(_spawns(fn) for fn in functions)


def _spawns(fn: Any) -> bool:
    """True if fn's code starts processes, directly or through a helper of its module."""
    source = _source(fn)
    module = inspect.getmodule(fn)
    if any(hint in source for hint in SPAWN_HINTS):
        return True
    return module is not None and any(f"{name}(" in source for name in _spawners(module))


@functools.cache
def _spawners(module: ModuleType) -> frozenset[str]:
    """Names of the module's own functions whose code starts processes."""
    return frozenset(
        name
        for name, value in vars(module).items()
        if inspect.isfunction(value)
        and value.__module__ == module.__name__
        and any(hint in _source(value) for hint in SPAWN_HINTS)
    )


def _source(fn: Any) -> str:
    try:
        return inspect.getsource(inspect.unwrap(fn))
    except (OSError, TypeError):
        return ""


@pytest.fixture(autouse=True)
def _fast_password_hashing(request: pytest.FixtureRequest) -> None:
    """Fast-tier tests hash test users' passwords with MD5: PBKDF2 costs 0.5-1.5 s a user here.

    Service-tier tests keep the real hashers: their servers run in other processes, which
    must be able to check the passwords the tests set.
    """
    if request.node.get_closest_marker("service") is None:
        settings = request.getfixturevalue("settings")
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def _release_test_database(django_db_setup, django_db_blocker):
    """Close the connections other threads hold (writer, sync_to_async) before the drop."""
    yield
    from django.db import connection

    from progress import writer

    with django_db_blocker.unblock():
        if writer._writer is not None:
            writer._writer.drain(timeout=5)
            writer._writer.close_connection()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
