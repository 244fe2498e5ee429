"""Test configuration shared by every app: real services, fail-not-skip under CI."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests whose service is missing, except under CI=true where they must fail."""
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
