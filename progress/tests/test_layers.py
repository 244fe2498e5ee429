"""The bounded pub/sub layer against a real Redis."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync

from progress.layers import BoundedRedisPubSubChannelLayer, DropOldestQueue


def test_a_full_queue_drops_its_oldest_message_not_the_newest():
    async def fill():
        queue = DropOldestQueue(3)
        for n in range(10):
            queue.put_nowait(n)
        return [queue.get_nowait() for _ in range(queue.qsize())], queue.dropped

    assert async_to_sync(fill)() == ([7, 8, 9], 7)


@pytest.mark.redis
def test_a_consumer_that_falls_behind_keeps_only_the_newest_messages(settings):
    layer = BoundedRedisPubSubChannelLayer(hosts=[settings.REDIS_URL], capacity=5)

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add("bounded-test", channel)
        for n in range(50):
            await layer.group_send("bounded-test", {"type": "progress.event", "n": n})
        received = []
        while True:
            try:
                received.append((await asyncio.wait_for(layer.receive(channel), 1.0))["n"])
            except TimeoutError:
                break
            if received[-1] == 49:
                break
        await layer.group_discard("bounded-test", channel)
        await layer.flush()
        return received

    received = async_to_sync(scenario)()
    assert received[-1] == 49  # the newest always arrives
    assert len(received) <= 5 + 1  # the backlog never exceeded the capacity
