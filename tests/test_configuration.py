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
from progress.tests.subprocesses import ROOT
from progress.tests.wsutil import session_cookie
from tests.live import LiveStack

IN_MEMORY = {"BACKEND": "channels.layers.InMemoryChannelLayer"}
REDIS = {"BACKEND": "progress.layers.BoundedRedisPubSubChannelLayer"}


def check_ids(prefix: str = "progress.") -> list[str]:
    return [m.id for m in run_checks() if m.id and m.id.startswith(prefix)]


def test_in_memory_layer_with_debug_off_warns_what_to_set(settings):
    settings.DEBUG = False
    settings.CHANNEL_LAYERS = {"default": IN_MEMORY}
    warnings = [m for m in run_checks() if m.id == "progress.W001"]
    assert len(warnings) == 1
    assert "CHANNEL_LAYERS['default']" in warnings[0].msg
    assert '"hosts": ["redis://' in warnings[0].hint
    assert "REDIS_URL" not in warnings[0].hint  # the app knows settings, not the environment


def test_redis_layer_or_debug_gives_no_warning(settings):
    settings.DEBUG = True
    settings.CHANNEL_LAYERS = {"default": IN_MEMORY}
    assert not [m for m in run_checks() if m.id == "progress.W001"]


def test_the_check_reads_the_layer_progress_is_configured_to_use(settings):
    settings.DEBUG = False
    settings.CHANNEL_LAYERS = {"default": REDIS, "progress": IN_MEMORY}
    settings.PROGRESS = {"CHANNEL_LAYER": "progress"}
    warnings = [m for m in run_checks() if m.id == "progress.W001"]
    assert len(warnings) == 1 and "CHANNEL_LAYERS['progress']" in warnings[0].msg
    settings.CHANNEL_LAYERS = {"default": IN_MEMORY, "progress": REDIS}
    assert "progress.W001" not in check_ids()


def test_a_channel_layer_or_storage_alias_that_does_not_exist_is_an_error(settings):
    settings.PROGRESS = {"CHANNEL_LAYER": "nope", "STORAGE": "missing"}
    assert {"progress.E001", "progress.E002"} <= set(check_ids())


@pytest.mark.parametrize(
    ("key", "value", "check"),
    [
        ("EMBEDDED_MAX_CONCURRENT_RUNS", 0, "progress.E003"),
        ("TRUSTED_PROXIES", ["10.0.0.5", "not-an-address"], "progress.E004"),
    ],
)
def test_a_bound_that_starts_no_run_or_a_proxy_that_is_no_address_is_an_error(
    settings, key, value, check
):
    assert check not in check_ids()
    settings.PROGRESS = {key: value}
    assert check in check_ids()


def test_the_app_reads_no_environment_and_no_project_settings():
    """progress is installable anywhere: no os.environ, no BASE_DIR, UPLOAD_DIR or project."""
    app = ROOT / "progress"
    sources = [
        path
        for path in app.rglob("*.py")
        if "tests" not in path.relative_to(app).parts and "migrations" not in path.parts
    ]
    offenders = {
        f"{path.relative_to(ROOT)}: {word}"
        for path in sources
        for word in (
            "os.environ",
            "getenv",
            "progressproject",
            "REDIS_URL",
            "TASKS_BACKEND",
            "BASE_DIR",
            "UPLOAD_DIR",
        )
        if word in path.read_text()
    }
    assert offenders == set()


def test_commands_link_runs_under_the_configured_site_url(settings):
    from progress.console import live_url

    settings.PROGRESS = {"SITE_URL": "https://progress.example.org/"}
    assert live_url(42) == "https://progress.example.org/progress/42/"


def test_preflight_checks_the_configured_layers_redis_in_terms_of_settings(settings):
    from progress import preflight

    settings.CHANNEL_LAYERS = {"live": {**REDIS, "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}}
    settings.PROGRESS = {"CHANNEL_LAYER": "live"}
    problem = preflight.channel_layer_problem()
    assert problem is not None
    assert problem.startswith(
        "CHANNEL_LAYERS['live'] uses Redis at 127.0.0.1:1, which refused the connection"
    )
    settings.CHANNEL_LAYERS = {"live": IN_MEMORY}
    assert preflight.channel_layer_problem() is None


def test_a_project_rephrases_a_preflight_check_by_registering_its_name(monkeypatch):
    from progress import preflight

    monkeypatch.setattr(preflight, "_checks", dict(preflight._checks))
    preflight.register("channel_layer", lambda: "REDIS_URL is wrong")
    preflight.register("database", lambda: None)
    preflight.register("extra", lambda: "the project's own")
    assert preflight.problems() == ["REDIS_URL is wrong", "the project's own"]


def manage_with(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # The demo's environment as make run sets it (DEBUG on), and nothing else of ours.
    base = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "DJANGO_DEBUG": "true"}
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
@pytest.mark.service
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
                # only run updates and the server's heartbeats may come before the pong
                assert "data" in reply or reply == {"type": "heartbeat"}
    finally:
        await asyncio.to_thread(stack.stop)


def test_the_api_templates_apps_missing_from_installed_apps_is_a_warning(settings):
    assert "progress.W002" not in check_ids()
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "django_filters"]
    warnings = [m for m in run_checks() if m.id == "progress.W002"]
    assert len(warnings) == 1 and "'django_filters'" in warnings[0].msg
