"""The Redis layer in a real daphne: sync code reaches one consumer, or a group.

channels-redis' own tests run in progress/tests/conformance/; this is the same contract
where it matters, in a serving process whose consumers wait on the main event loop while
sync code (a view's worker thread, or a thread with its own loop) sends.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest
import websockets

from tests.live import LiveStack

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]


async def hello(socket) -> str:
    frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert frame["type"] == "hello"
    return frame["channel"]


async def received(socket, timeout: float = 5.0) -> dict | None:
    try:
        return json.loads(await asyncio.wait_for(socket.recv(), timeout))
    except TimeoutError:
        return None


def sync_send(url: str, channel: str = "", *, group: bool, new_loop: bool) -> None:
    query = f"channel={channel}&group={int(group)}&new_loop={int(new_loop)}"
    with urllib.request.urlopen(f"{url}/sync-send/?{query}", timeout=10) as response:
        assert json.load(response) == {"sent": True}


@pytest.mark.parametrize("new_loop", [False, True], ids=["view-thread", "own-loop"])
async def test_sync_code_reaches_one_consumers_channel_and_a_group_in_the_same_daphne(new_loop):
    stack = await asyncio.to_thread(
        LiveStack, worker=False, asgi="tests.sync_send_asgi:application"
    )
    ws_url = stack.url.replace("http", "ws") + "/ws/echo/"
    try:
        async with (
            websockets.connect(ws_url, origin=stack.url) as first,
            websockets.connect(ws_url, origin=stack.url) as second,
        ):
            first_channel = await hello(first)
            await hello(second)

            await asyncio.to_thread(
                sync_send, stack.url, first_channel, group=False, new_loop=new_loop
            )
            direct = await received(first)
            assert direct is not None, "a direct send from sync code was lost"
            assert (direct["target"], direct["group"]) == (first_channel, False)
            assert await received(second, timeout=0.5) is None  # only the addressed consumer

            await asyncio.to_thread(sync_send, stack.url, group=True, new_loop=new_loop)
            for socket in (first, second):
                message = await received(socket)
                assert message is not None and message["group"] is True
    finally:
        await asyncio.to_thread(stack.stop)
