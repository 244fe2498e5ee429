"""Run project processes (commands, daphne) against the test database, for cross-process tests.

They run the host project's manage.py (the folder above the app), with its settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]  # the project (manage.py)


def test_database_url() -> str:
    """DATABASE_URL pointing at the test database pytest-django created."""
    parsed = urlparse(os.environ["DATABASE_URL"])
    return urlunparse(parsed._replace(path="/" + connection.settings_dict["NAME"]))


def project_env(*, redis: bool, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": test_database_url(), **extra}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for tests beside Playwright only
    if not redis:
        env.pop("REDIS_URL", None)
    return env


def manage(*args: str, redis: bool, **extra: str) -> subprocess.Popen[str]:
    """Start `manage.py args...` in a new process; stdout is piped."""
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=project_env(redis=redis, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
