"""A tracker in another process reaches WebSocket clients: through Redis, or the DB relay."""

from __future__ import annotations

import asyncio

import pytest

from progress.tests.factories import StaffFactory
from progress.tests.subprocesses import manage
from progress.tests.wsutil import open_socket, receive, receive_until
from progress.tracker import ProgressTracker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


async def watch_command_run(communicator, process) -> list[dict]:
    try:
        messages = await receive_until(
            communicator, lambda m: m["type"] in {"task_completed", "task_failed"}, timeout=30
        )
    finally:
        _out, err = await asyncio.to_thread(process.communicate, timeout=30)
    assert process.returncode == 0, err
    return messages


@pytest.mark.redis
async def test_command_in_another_process_reaches_the_browser_through_redis(settings):
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == (
        "progress.layers.BoundedRedisPubSubChannelLayer"
    )
    staff = await asyncio.to_thread(StaffFactory)
    communicator, _ = await open_socket("/ws/progress/", staff)
    assert (await receive(communicator))["type"] == "snapshot"
    process = manage("progress_demo", "--items", "40", "--delay", "0.02", redis=True)
    messages = await watch_command_run(communicator, process)
    final = messages[-1]["data"]
    assert (final["status"], final["current_item"], final["items_added"]) == ("completed", 40, 40)
    progress = [m for m in messages if m["type"] == "progress_update"]
    assert len(progress) >= 2  # live updates, not just the end (intermediate states coalesce)
    assert [m["data"]["seq"] for m in messages] == sorted(m["data"]["seq"] for m in messages)
    await communicator.disconnect()


async def test_in_memory_layer_relays_a_command_run_from_the_database(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.PROGRESS = {"DB_POLL_INTERVAL": 0.2}
    staff = await asyncio.to_thread(StaffFactory)
    communicator, _ = await open_socket("/ws/progress/", staff)
    await receive(communicator)
    process = manage("progress_demo", "--items", "30", "--delay", "0.05", redis=False)
    messages = await watch_command_run(communicator, process)
    assert messages[-1]["data"]["current_item"] == 30
    assert any(
        m["type"] == "progress_update" and m["data"]["status"] == "running" for m in messages
    )
    await communicator.disconnect()


@pytest.mark.redis
async def test_failure_in_another_process_reaches_the_browser_with_its_message(settings):
    staff = await asyncio.to_thread(StaffFactory)
    communicator, _ = await open_socket("/ws/progress/", staff)
    await receive(communicator)
    process = manage(
        "progress_demo", "--items", "10", "--delay", "0.01", "--fail-at", "5", redis=True
    )
    messages = await receive_until(communicator, lambda m: m["type"] == "task_failed", timeout=30)
    await asyncio.to_thread(process.communicate, timeout=30)
    assert process.returncode == 1
    assert messages[-1]["data"]["error_message"] == "RuntimeError: demo failure at item 5"
    await communicator.disconnect()


async def test_in_memory_layer_relays_another_processes_log_lines_to_the_run_page(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.PROGRESS = {"DB_POLL_INTERVAL": 0.2}
    staff = await asyncio.to_thread(StaffFactory)
    run = await asyncio.to_thread(ProgressTracker.create, "relayed_logs", user=staff)
    page, _ = await open_socket(f"/ws/progress/{run.id}/", staff)
    await receive(page)  # the snapshot; the relay is running from here
    code = (
        "import logging, time\n"
        "from progress.tracker import track_operation\n"
        f"with track_operation('relayed_logs', operation_id={run.id}):\n"
        "    logging.getLogger('curation.relay_test').warning('a line from another process')\n"
        "    time.sleep(1.5)\n"
    )
    process = manage("shell", "-c", code, redis=False)
    try:
        seen = await receive_until(page, lambda m: m["type"] == "log", timeout=30)
    finally:
        _out, err = await asyncio.to_thread(process.communicate, timeout=30)
    assert process.returncode == 0, err
    lines = seen[-1]["lines"]
    assert [line["message"] for line in lines] == ["a line from another process"]
    assert (seen[-1]["id"], lines[0]["level"]) == (run.id, "WARNING")
    await page.disconnect()
