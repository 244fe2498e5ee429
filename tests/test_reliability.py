"""Faults against real processes and services: dead workers, Redis outages, rollbacks,
several servers, retention. Timeouts are shortened; every wait is bounded."""

from __future__ import annotations

import asyncio
import json
import signal

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.db import transaction

from progress.launch import operation_rerun
from progress.models import OperationProgress, Status
from progress.tests.factories import OperationProgressFactory, StaffFactory
from progress.tests.subprocesses import manage
from progress.tests.waiting import aeventually, eventually
from progress.tests.wsutil import open_socket, receive, receive_until, session_cookie
from progress.tracker import track_operation
from tests.live import LiveStack, RedisServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]
PANEL = "data/kidney-panels/cegat.json"
FAST = {"PROGRESS_HEARTBEAT_INTERVAL": "0.3", "PROGRESS_DB_INTERVAL": "0.2"}


def items_done(run_id: int) -> int:
    """The run's current_item as the table holds it."""
    return OperationProgress.objects.values_list("current_item", flat=True).get(pk=run_id)


async def test_sigkilled_command_is_marked_stalled_browsers_are_told_and_it_can_rerun(settings):
    settings.PROGRESS = {"STALL_TIMEOUT": 1.5}
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    staff = await sync_to_async(StaffFactory)(is_superuser=True)
    communicator, _ = await open_socket("/ws/progress/", staff)  # starts this server's sweep
    await receive(communicator)
    process = manage(
        "import_genes", PANEL, "--scope", "killed", "--pace", "0.05", "--no-bar", redis=True, **FAST
    )
    run = await asyncio.to_thread(
        eventually, lambda: OperationProgress.objects.filter(status=Status.RUNNING).first(), 30
    )
    await asyncio.to_thread(eventually, lambda: items_done(run.pk) > 0, 30)  # mid-run
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    messages = await receive_until(communicator, lambda m: m["type"] == "task_stalled", timeout=15)
    stalled = messages[-1]["data"]
    assert (stalled["id"], stalled["status"]) == (run.pk, "stalled")
    assert "No heartbeat for over 1.5 s (the last at 20" in stalled["error_message"]
    saved = await sync_to_async(OperationProgress.objects.get)(pk=run.pk)
    assert saved.status == Status.STALLED and saved.seq == stalled["seq"]

    rerun = await sync_to_async(operation_rerun)(saved, user=staff)  # runs at once (immediate)
    again = await sync_to_async(OperationProgress.objects.get)(pk=rerun.pk)
    assert (again.status, again.items_added + again.items_updated) == (Status.COMPLETED, 288)
    await communicator.disconnect()


def test_mark_stalled_command_marks_only_runs_without_heartbeat(settings):
    fresh = OperationProgressFactory(status=Status.RUNNING)
    OperationProgress.objects.filter(pk=fresh.pk).update(heartbeat_at=time_ago(0))
    dead = OperationProgressFactory(status=Status.RUNNING)
    OperationProgress.objects.filter(pk=dead.pk).update(heartbeat_at=time_ago(120))
    call_command("mark_stalled", "--timeout", "60")
    fresh.refresh_from_db()
    dead.refresh_from_db()
    assert (fresh.status, dead.status) == (Status.RUNNING, Status.STALLED)


def time_ago(seconds):
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() - timedelta(seconds=seconds)


def test_redis_outage_mid_run_never_fails_the_run_and_is_logged_once_each_way():
    redis = RedisServer()
    stack = LiveStack(worker=False, REDIS_URL=redis.url, **FAST)
    try:
        command = stack.command(
            "import_genes", PANEL, "--scope", "outage", "--pace", "0.02", "--no-bar", log="outage"
        )
        run = eventually(
            lambda: OperationProgress.objects.filter(status=Status.RUNNING).first(), 30
        )
        eventually(lambda: items_done(run.pk) > 0, 30)
        redis.kill()
        at_kill = items_done(run.pk)
        # The run keeps importing while broadcasts fail (50 rows: about a second).
        eventually(lambda: items_done(run.pk) >= at_kill + 50, 30)
        redis.start()
        assert command.wait(60) == 0
        run = OperationProgress.objects.get()
        assert (run.status, run.current_item, run.items_added) == (Status.COMPLETED, 288, 288)
        log = stack.log_text("outage")
        assert log.count("Broadcasting progress is down") == 1, log
        assert log.count("Broadcasting progress recovered") == 1, log
    finally:
        stack.stop()
        redis.stop()


async def test_rollback_inside_atomic_ends_failed_for_the_table_and_every_client(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    staff = await sync_to_async(StaffFactory)()
    clients = [(await open_socket("/ws/progress/", staff))[0] for _ in range(3)]
    for client in clients:
        await receive(client)

    def pipeline_that_rolls_back():
        with transaction.atomic(), track_operation("atomic", total_items=10) as tracker:
            for i in range(1, 6):
                tracker.update(current_item=i, force=True)
            raise ValueError("row 6 violates a constraint")

    with pytest.raises(ValueError):
        await asyncio.to_thread(pipeline_that_rolls_back)
    run = await sync_to_async(OperationProgress.objects.get)()
    assert (run.status, run.error_message) == (
        Status.FAILED,
        "ValueError: row 6 violates a constraint",
    )
    for client in clients:
        messages = await receive_until(client, lambda m: m["type"] == "task_failed")
        final = messages[-1]["data"]
        assert (final["status"], final["seq"], final["current_item"]) == ("failed", run.seq, 5)
        assert "task_completed" not in {m["type"] for m in messages}
        await client.disconnect()


def finals(seen: dict) -> set[int]:
    return {run_id for run_id, events in seen.items() if events[-1][1] == "task_completed"}


async def ws_client(url: str, cookie: bytes, seen: dict, ready: asyncio.Event, done: asyncio.Event):
    """A minimal browser stand-in: records every (id, seq, type) it receives."""
    ws_url = url.replace("http", "ws") + "/ws/progress/"
    async with websockets.connect(
        ws_url, origin=url, additional_headers={"Cookie": cookie.decode()}
    ) as socket:
        ready.set()
        while not done.is_set():
            try:
                frame = json.loads(await asyncio.wait_for(socket.recv(), 0.5))
            except TimeoutError:
                continue
            # A lagging client gets its queued states as one "batch" frame.
            for event in frame["events"] if frame.get("type") == "batch" else [frame]:
                if "data" in event:
                    data = event["data"]
                    seen.setdefault(data["id"], []).append((data["seq"], event["type"]))


async def test_two_servers_and_a_worker_deliver_every_final_state_in_seq_order():
    stack = await asyncio.to_thread(LiveStack, worker=True)
    second, second_url = await asyncio.to_thread(stack.extra_daphne)
    try:
        staff = await sync_to_async(StaffFactory)(is_superuser=True)
        cookie = await sync_to_async(session_cookie)(staff)
        done, ready_a, ready_b = asyncio.Event(), asyncio.Event(), asyncio.Event()
        runs: set[int] = set()
        seen_a: dict = {}
        seen_b: dict = {}
        tasks = [
            asyncio.create_task(ws_client(stack.url, cookie, seen_a, ready_a, done)),
            asyncio.create_task(ws_client(second_url, cookie, seen_b, ready_b, done)),
        ]
        await asyncio.wait_for(asyncio.gather(ready_a.wait(), ready_b.wait()), 20)
        for _ in range(3):
            process = await asyncio.to_thread(
                stack.command, "calculate_scores", "--enqueue", "--user", staff.username
            )
            assert await asyncio.to_thread(process.wait, 30) == 0
            run = await sync_to_async(OperationProgress.objects.latest)("pk")
            runs.add(run.pk)
        try:
            await aeventually(lambda: finals(seen_a) >= runs <= finals(seen_b), 30, step=0.1)
        finally:
            done.set()
            await asyncio.gather(*tasks)
        assert finals(seen_a) == finals(seen_b) == runs  # 100 % of final states, both servers
        for run_id in runs:
            # Each server's queues keep the latest state per run, so a busy one may skip a
            # live state the other sent; both deliver states in seq order and the same final.
            for seen in (seen_a, seen_b):
                seqs = [seq for seq, _kind in seen[run_id]]
                assert seqs == sorted(set(seqs))
            assert seen_a[run_id][-1] == seen_b[run_id][-1]
            assert seen_a[run_id][-1][1] == "task_completed"
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(10)
        await asyncio.to_thread(stack.stop)


def test_prune_deletes_old_finished_runs_in_batches_and_never_running_ones():
    old_done = [OperationProgressFactory(status=Status.COMPLETED) for _ in range(5)]
    old_running = OperationProgressFactory(status=Status.RUNNING)
    recent = OperationProgressFactory(status=Status.FAILED)
    OperationProgress.objects.exclude(pk=recent.pk).update(created_at=time_ago(40 * 86400))
    call_command("prune_operations", "--older-than", "30d", "--batch-size", "2")
    remaining = set(OperationProgress.objects.values_list("pk", flat=True))
    assert remaining == {old_running.pk, recent.pk}
    assert not any(OperationProgress.objects.filter(pk=op.pk).exists() for op in old_done)


def test_prune_refuses_an_unreadable_age():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="write a number and d, h or m"):
        call_command("prune_operations", "--older-than", "a month")


def raw_websocket_that_never_reads(url: str, cookie: bytes):
    """Open a WebSocket by hand and then never read from it: the worst slow client."""
    import base64
    import os
    import socket
    from urllib.parse import urlparse

    parsed = urlparse(url)
    sock = socket.create_connection((parsed.hostname, parsed.port), 5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/progress/ HTTP/1.1\r\nHost: {parsed.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {url}\r\nCookie: {cookie.decode()}\r\n\r\n"
        ).encode()
    )
    return sock


async def test_a_client_that_never_reads_slows_neither_the_run_nor_other_clients():
    stack = await asyncio.to_thread(LiveStack, worker=False)
    try:
        staff = await sync_to_async(StaffFactory)(is_superuser=True)
        cookie = await sync_to_async(session_cookie)(staff)
        stuck = [raw_websocket_that_never_reads(stack.url, cookie) for _ in range(5)]
        seen: dict = {}
        ready, done = asyncio.Event(), asyncio.Event()
        reader = asyncio.create_task(ws_client(stack.url, cookie, seen, ready, done))
        await asyncio.wait_for(ready.wait(), 20)
        command = await asyncio.to_thread(
            stack.command, "progress_demo", "--items", "300", "--delay", "0.01"
        )
        assert await asyncio.to_thread(command.wait, 60) == 0
        try:
            await aeventually(lambda: finals(seen), 20, step=0.05)
        finally:
            done.set()
            await reader
        assert len(finals(seen)) == 1  # the reading client got the final state
        run_id = next(iter(finals(seen)))
        assert len(seen[run_id]) >= 5  # and live updates along the way
        for sock in stuck:
            sock.close()
    finally:
        await asyncio.to_thread(stack.stop)
