"""Test configuration shared by every app: real services, fail-not-skip under CI."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

# The service tier (pytest -m service): tests that need PostgreSQL, Redis or Chromium (their
# markers), or that start processes or run for long (marked `service`, and `slow` for the
# in-process load tests). Every tier is marked in the test's own code, never inferred; the
# rest is the fast tier: pytest -m "not service".
SERVICE_MARKERS = ("postgres", "redis", "browser", "slow")


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
        if any(marker in item.keywords for marker in SERVICE_MARKERS):
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


@pytest.fixture(autouse=True)
def _fast_tier_starts_no_process(request: pytest.FixtureRequest, monkeypatch: Any) -> None:
    """A test that starts a process belongs to the service tier: say so with its marker."""
    if request.node.get_closest_marker("service") is not None:
        return

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(
            f"{request.node.nodeid} starts a process; mark it @pytest.mark.service "
            "(the fast tier runs in-process only)"
        )

    monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse)


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

    from progress.runtime import writer

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
