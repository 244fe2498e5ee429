"""Issue 25: a socket's budget (frames charged as they arrive, resyncs by their answer),
sockets that follow their user's login, and the reconnect rate."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from asgiref.sync import sync_to_async

from progress import protocol, snapshots
from progress.tests.factories import OperationProgressFactory
from progress.tests.wsutil import open_socket, receive, receive_list

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_memory_layer")]

RESYNC = json.dumps({"type": "resync", "since": {}})


@pytest.fixture
def slow_resyncs(monkeypatch):
    """Each resync's query takes 20 ms (as one naming 1,000 runs does); returns the calls."""
    calls = []
    newer_than = snapshots.newer_than

    def slow(*args, **kwargs):
        calls.append(time.monotonic())
        time.sleep(0.02)
        return newer_than(*args, **kwargs)

    monkeypatch.setattr(snapshots, "newer_than", slow)
    return calls


async def close_code(communicator, timeout: float = 10.0) -> int | None:
    """Read frames until the server closes; its close code (None: it never did)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            output = await communicator.receive_output(deadline - time.monotonic())
        except TimeoutError:
            return None
        if output["type"] == "websocket.close":
            return output["code"]
    return None


async def send_burst(communicator, text: str, count: int) -> None:
    for _ in range(count):
        await communicator.send_input({"type": "websocket.receive", "text": text})


async def test_a_burst_of_resyncs_is_closed_with_4008_as_it_arrives(user, slow_resyncs):
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    await send_burst(communicator, RESYNC, 200)
    assert await close_code(communicator, timeout=3) == protocol.CLOSE_RATE_LIMITED
    assert len(slow_resyncs) <= 2  # the one in flight, and the newest that waited behind it


async def test_resyncs_waiting_behind_one_are_answered_once(user, slow_resyncs, settings):
    settings.PROGRESS = {"CLIENT_BURST": 100}
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    await send_burst(communicator, RESYNC, 50)
    answers = 0
    while not await communicator.receive_nothing(timeout=0.5):
        assert (await receive(communicator))["type"] == "resync"
        answers += 1
    assert 1 <= answers == len(slow_resyncs) <= 2
    await communicator.disconnect()


async def test_a_disconnect_drops_the_sockets_waiting_frames(user, slow_resyncs, settings):
    settings.PROGRESS = {"CLIENT_BURST": 1000, "CLIENT_RATE": 1000.0}
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    await send_burst(communicator, RESYNC, 100)
    await send_burst(communicator, json.dumps({"type": "ping"}), 100)
    await communicator.send_input({"type": "websocket.disconnect", "code": 1001})
    await asyncio.sleep(1.5)
    assert len(slow_resyncs) <= 2
    await communicator.wait(timeout=2)


async def test_a_resync_costs_tokens_by_the_runs_it_returns(user, settings):
    settings.PROGRESS = {"CLIENT_RATE": 5.0, "CLIENT_BURST": 30, "RESYNC_RUNS_PER_TOKEN": 10}
    await sync_to_async(OperationProgressFactory.create_batch)(100, created_by=user)
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive_list(communicator, "snapshot")
    # Three frames a second, under the rate of 5; but each answer of 100 runs costs 10 more.
    answered = 0
    for _ in range(10):
        await communicator.send_to(text_data=RESYNC)
        output = await communicator.receive_output(5)
        if output["type"] == "websocket.close":
            assert output["code"] == protocol.CLOSE_RATE_LIMITED
            break
        assert json.loads(output["text"])["type"] == "resync"
        answered += 1
        await asyncio.sleep(0.3)
    else:
        pytest.fail("ten resyncs of 100 runs in three seconds were never refused")
    assert answered >= 2


async def test_pings_under_the_rate_are_answered(user, settings):
    settings.PROGRESS = {"CLIENT_RATE": 50.0, "CLIENT_BURST": 5}
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    for _ in range(20):
        await communicator.send_json_to({"type": "ping"})
        assert await receive(communicator) == {"type": "pong"}
        await asyncio.sleep(0.03)
    await communicator.disconnect()
