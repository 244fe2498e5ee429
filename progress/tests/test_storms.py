"""Reconnect storms: shared snapshots, batched session lookups, services started once
(issue 12; the fan-out of states to many sockets is test_fanout.py)."""

from __future__ import annotations

import asyncio
import os

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import Client

from progress.sockets import server, snapshots
from progress.sockets.wsauth import (
    SessionUserMiddlewareStack,
    _forget_logged_out_session,
    session_users,
)
from progress.tests.factories import OperationProgressFactory, StaffFactory
from progress.tests.waiting import aeventually
from progress.tests.wsutil import open_socket, receive, receive_until
from progress.tracker import track_operation

REDIS_LAYERS = settings.CHANNEL_LAYERS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_memory_layer")]


@pytest.fixture
def snapshot_loads(monkeypatch):
    """Counts snapshot queries (one per snapshot_for call) by visibility."""
    loads: list[str] = []
    original = snapshots.snapshot_for

    def counting(user, *, operation_id=None):
        loads.append("staff" if user.is_staff else f"user {user.pk}")
        return original(user, operation_id=operation_id)

    monkeypatch.setattr(snapshots, "snapshot_for", counting)
    return loads


async def open_many(path, users):
    return await asyncio.gather(*(open_socket(path, user) for user in users))


async def test_concurrent_staff_connects_share_one_snapshot_query(
    snapshot_loads, user, monkeypatch
):
    staff = [await sync_to_async(StaffFactory)() for _ in range(6)]
    run = await sync_to_async(OperationProgressFactory)(created_by=user)
    # The load waits (in the loop, not the database thread) until all six connects have
    # asked for a snapshot, so they overlap however slowly a busy machine runs them.
    asked = []
    share = snapshots.shared_snapshots.get

    async def asking(key, loader, **kwargs):
        asked.append(key)

        async def held():
            await aeventually(lambda: len(asked) == len(staff))
            return await loader()

        return await share(key, held, **kwargs)

    monkeypatch.setattr(snapshots.shared_snapshots, "get", asking)
    sockets = await open_many("/ws/progress/", staff)
    received = [await receive(communicator) for communicator, _ in sockets]
    assert all(s["operations"] == received[0]["operations"] for s in received)
    assert [op["id"] for op in received[0]["operations"]] == [run.pk]
    assert snapshot_loads == ["staff"]
    for communicator, _ in sockets:
        await communicator.disconnect()


async def test_different_visibilities_do_not_share_a_snapshot(snapshot_loads, user, other_user):
    staff = await sync_to_async(StaffFactory)()
    mine = await sync_to_async(OperationProgressFactory)(created_by=user)
    theirs = await sync_to_async(OperationProgressFactory)(created_by=other_user)
    sockets = await open_many("/ws/progress/", [staff, user, other_user, user])
    ids = [{op["id"] for op in (await receive(c))["operations"]} for c, _ in sockets]
    assert ids == [{mine.pk, theirs.pk}, {mine.pk}, {theirs.pk}, {mine.pk}]
    assert sorted(snapshot_loads) == sorted(["staff", f"user {user.pk}", f"user {other_user.pk}"])
    for communicator, _ in sockets:
        await communicator.disconnect()


@pytest.mark.parametrize("layer", ["in-memory", "redis"])
async def test_a_shared_snapshot_is_followed_by_what_changed_since_it_was_loaded(
    snapshot_loads, staff, fast_progress, settings, layer
):
    if layer == "redis":
        if not os.environ.get("REDIS_URL"):
            pytest.skip("needs REDIS_URL")
        settings.CHANNEL_LAYERS = REDIS_LAYERS
    settings.PROGRESS = {**settings.PROGRESS, "SNAPSHOT_SHARE_SECONDS": 30}
    first, _ = await open_socket("/ws/progress/", staff)
    assert (await receive(first))["operations"] == []

    def finish_a_run():
        with track_operation("between connects", total_items=1) as tracker:
            tracker.update(current_item=1)
        return tracker.id

    run_id = await asyncio.to_thread(finish_a_run)
    await receive_until(first, lambda m: m["type"] == "task_completed")
    late, _ = await open_socket("/ws/progress/", staff)
    # The snapshot loaded for the first socket is shared (one query), and the run that
    # finished since it was loaded follows it, as the feed took it in.
    assert (await receive(late))["operations"] == []
    final = (await receive_until(late, lambda m: m["type"] == "task_completed"))[-1]
    assert final["data"]["id"] == run_id and final["data"]["status"] == "completed"
    assert snapshot_loads == ["staff"]
    for communicator in (first, late):
        await communicator.disconnect()


async def test_a_snapshot_loaded_before_the_feed_was_joined_is_not_shared(snapshot_loads, staff):
    for _ in range(2):  # the feed is left with its last socket: the next one joins anew
        communicator, _ = await open_socket("/ws/progress/", staff)
        await receive(communicator)
        await communicator.disconnect()
    assert snapshot_loads == ["staff", "staff"]


async def until(predicate, timeout: float = 2.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_sharing_is_off_with_a_share_time_of_zero(snapshot_loads, settings):
    settings.PROGRESS = {"SNAPSHOT_SHARE_SECONDS": 0}
    staff = [await sync_to_async(StaffFactory)() for _ in range(3)]
    sockets = await open_many("/ws/progress/", staff)
    for communicator, _ in sockets:
        await receive(communicator)
        await communicator.disconnect()
    assert snapshot_loads == ["staff"] * 3


async def test_server_services_start_once_not_per_connect(staff, monkeypatch):
    sweeps = []
    monkeypatch.setattr(server, "ensure_sweeper", lambda: sweeps.append(1))
    server.stop_services()
    starts = server.starts
    sockets = await open_many("/ws/progress/", [staff] * 4)
    for communicator, _ in sockets:
        await receive(communicator)
        await communicator.disconnect()
    assert server.starts == starts + 1
    assert sweeps == [1]


async def test_the_lifespan_start_up_starts_the_services_once(monkeypatch):
    sweeps = []
    monkeypatch.setattr(server, "ensure_sweeper", lambda: sweeps.append(1))
    server.stop_services()
    app = server.ServerServices(lambda scope, receive, send: asyncio.sleep(0))
    events = asyncio.Queue()
    for kind in ("lifespan.startup", "lifespan.shutdown"):
        events.put_nowait({"type": kind})
    sent = []

    async def send(message):
        sent.append(message["type"])

    await app({"type": "lifespan"}, events.get, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert sweeps == [1]


async def test_concurrent_connects_look_their_sessions_up_in_one_batch(staff):
    others = [await sync_to_async(StaffFactory)() for _ in range(7)]
    hops = session_users.hops
    sockets = await open_many("/ws/progress/", [staff, *others])
    for communicator, _ in sockets:
        assert (await receive(communicator))["type"] == "snapshot"
        await communicator.disconnect()
    assert session_users.hops - hops < len(sockets)


async def test_a_logout_forgets_the_remembered_session_at_once(user):
    client = Client()
    await sync_to_async(client.force_login)(user)
    key = client.cookies["sessionid"].value
    assert (await session_users.user_for(key)).pk == user.pk
    await sync_to_async(client.logout)()
    assert not (await session_users.user_for(key)).is_authenticated


async def test_a_session_of_an_inactive_user_is_anonymous(user):
    client = Client()
    await sync_to_async(client.force_login)(user)
    key = client.cookies["sessionid"].value
    session_users.forget(key)
    user.is_active = False
    await sync_to_async(user.save)()
    assert not (await session_users.user_for(key)).is_authenticated


async def test_a_session_whose_password_changed_is_anonymous(user):
    client = Client()
    await sync_to_async(client.force_login)(user)
    key = client.cookies["sessionid"].value
    session_users.forget(key)
    user.set_password("a-new-password-for-tests")
    await sync_to_async(user.save)()
    assert not (await session_users.user_for(key)).is_authenticated


def test_a_logout_without_a_session_is_harmless():
    _forget_logged_out_session(request=None)


async def test_forged_session_cookies_are_anonymous_without_a_query():
    hops = session_users.hops
    for forged in ("x" * 5000, "../../etc", "é" * 32):
        assert not (await session_users.user_for(forged)).is_authenticated
    assert session_users.hops == hops


async def test_a_socket_has_its_session_and_user_and_frames_skip_the_session_wrapper(user):
    client = Client()
    await sync_to_async(client.force_login)(user)
    key = client.cookies["sessionid"].value
    seen = {}

    async def app(scope, receive, send):
        seen.update(scope=scope, send=send)

    async def server_send(message):
        pass

    scope = {"type": "websocket", "headers": [(b"cookie", f"sessionid={key}".encode())]}
    await SessionUserMiddlewareStack(app)(scope, None, server_send)
    assert seen["scope"]["user"].pk == user.pk
    assert seen["scope"]["session"].session_key == key
    assert await sync_to_async(seen["scope"]["session"].get)("_auth_user_id") == str(user.pk)
    assert seen["send"] is server_send
