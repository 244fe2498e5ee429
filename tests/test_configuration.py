"""Configuration: system checks, one-line errors for unreachable services, idle sockets."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.core.checks import run_checks

from progress.tests.factories import StaffFactory
from progress.tests.wsutil import session_cookie
from tests.live import LiveStack
from tests.subprocesses import ROOT


def test_in_memory_layer_with_debug_off_warns_what_to_set(settings):
    settings.DEBUG = False
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    warnings = [m for m in run_checks() if m.id == "progress.W001"]
    assert len(warnings) == 1
    assert "REDIS_URL=redis://" in warnings[0].hint


def test_redis_layer_or_debug_gives_no_warning(settings):
    settings.DEBUG = True
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert not [m for m in run_checks() if m.id == "progress.W001"]


def manage_with(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "command", "says"),
    [
        (
            {"DATABASE_URL": "postgres://postgres@127.0.0.1:1/none"},
            "migrate",
            "DATABASE_URL points at PostgreSQL 127.0.0.1:1/none, which refused",
        ),
        (
            {"REDIS_URL": "redis://127.0.0.1:1/0"},
            "preflight",
            "REDIS_URL is set but Redis at 127.0.0.1:1 refused the connection",
        ),
    ],
)
def test_unreachable_services_give_one_clear_line_not_a_traceback(env, command, says):
    result = manage_with(env, command)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert says in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.redis
async def test_an_idle_socket_under_daphne_with_redis_stays_open():
    """channels-redis 4.3 + redis-py 8 closed idle consumers with 1011 every ~5 s
    (django/channels_redis#422) until socket_timeout was set in the host dict."""
    stack = await asyncio.to_thread(LiveStack, worker=False)
    try:
        staff = await sync_to_async(StaffFactory)()
        cookie = await sync_to_async(session_cookie)(staff)
        async with websockets.connect(
            stack.url.replace("http", "ws") + "/ws/progress/",
            origin=stack.url,
            additional_headers={"Cookie": cookie.decode()},
        ) as socket:
            assert json.loads(await socket.recv())["type"] == "snapshot"
            await asyncio.sleep(12)  # idle, longer than two of the observed 5 s cycles
            await socket.send(json.dumps({"type": "ping"}))
            while (reply := json.loads(await asyncio.wait_for(socket.recv(), 5)))["type"] != "pong":
                assert "data" in reply  # only run updates may come before the pong
    finally:
        await asyncio.to_thread(stack.stop)
