"""The bounded pub/sub layer: its latest-state queue alone, and against a real Redis."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync

from progress.layers import BoundedRedisPubSubChannelLayer, LatestStateQueue
from progress.protocol import LAYER_EVENT


def state(run_id: int, seq: int, *, final: bool = False) -> dict:
    kind = "task_completed" if final else "progress_update"
    text = f'{{"type":"{kind}","data":{{"id":{run_id},"seq":{seq}}}}}'
    return {"type": LAYER_EVENT, "id": run_id, "seq": seq, "final": final, "text": text}


def drain(queue: LatestStateQueue) -> list:
    async def get_all():
        return [queue.get_nowait() for _ in range(queue.qsize())]

    return async_to_sync(get_all)()


def test_a_full_queue_drops_its_oldest_message_not_the_newest():
    queue = LatestStateQueue(3)
    for n in range(10):
        queue.put_nowait({"type": "progress.log", "n": n})
    assert [m["n"] for m in drain(queue)] == [7, 8, 9]
    assert queue.dropped == 7


def test_a_newer_state_replaces_the_queued_state_of_its_run():
    queue = LatestStateQueue(10)
    for seq in range(1, 6):
        queue.put_nowait(state(1, seq))
    queue.put_nowait(state(2, 1))
    queue.put_nowait(state(1, 3))  # older than the queued one: ignored
    assert [(m["id"], m["seq"]) for m in drain(queue)] == [(1, 5), (2, 1)]


def test_a_final_state_is_never_dropped_even_when_the_queue_is_full_of_finals():
    queue = LatestStateQueue(3)
    for run_id in range(1, 6):
        queue.put_nowait(state(run_id, 1, final=True))
    for run_id in range(6, 20):
        queue.put_nowait(state(run_id, 1))  # live states of other runs make room for each other
    held = drain(queue)
    finals = [m["id"] for m in held if "task_completed" in m["text"]]
    assert finals == [1, 2, 3, 4, 5]
    assert [m["id"] for m in held if m["id"] > 5] == [19]


def test_live_states_make_room_before_a_final():
    queue = LatestStateQueue(2)
    queue.put_nowait(state(1, 1))
    queue.put_nowait(state(2, 1, final=True))
    queue.put_nowait(state(3, 1))
    assert [m["id"] for m in drain(queue)] == [2, 3]


@pytest.mark.redis
def test_a_consumer_that_falls_behind_keeps_only_the_newest_messages(settings):
    layer = BoundedRedisPubSubChannelLayer(hosts=[settings.REDIS_URL], capacity=5)

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add("bounded-test", channel)
        for n in range(50):
            await layer.group_send("bounded-test", state(n % 8, n, final=n >= 48))
        received = []
        while True:
            try:
                received.append(await asyncio.wait_for(layer.receive(channel), 1.0))
            except TimeoutError:
                break
            if received[-1]["seq"] == 49:
                break
        await layer.group_discard("bounded-test", channel)
        await layer.flush()
        return received

    received = async_to_sync(scenario)()
    seqs = [m["seq"] for m in received]
    assert seqs[-1] == 49  # the newest always arrives
    assert {48, 49} <= set(seqs)  # both finals arrive
    assert len(received) <= 5 + 2  # the backlog never exceeded the capacity (plus finals)


@pytest.mark.redis
def test_a_consumers_own_channel_is_not_subscribed_in_redis(settings):
    layer = BoundedRedisPubSubChannelLayer(hosts=[settings.REDIS_URL])

    async def scenario():
        channel = await layer.new_channel()
        subscribed = set(layer._get_layer()._shards[0]._subscribed_to)
        await layer.send(channel, {"type": "hello"})  # delivered in process
        message = await asyncio.wait_for(layer.receive(channel), 1.0)
        await layer.flush()
        return channel, subscribed, message

    channel, subscribed, message = async_to_sync(scenario)()
    assert channel not in subscribed
    assert message == {"type": "hello"}


@pytest.mark.redis
def test_a_watched_group_is_unsubscribed_when_its_last_watcher_goes(settings):
    layer = BoundedRedisPubSubChannelLayer(hosts=[settings.REDIS_URL])
    seen: list[list[int]] = [[], []]

    async def scenario():
        shard = layer._get_layer()._shards[0]
        group_channel = layer._get_layer()._get_group_channel_name("watched-test")
        first, second = seen[0].append, seen[1].append
        await layer.watch_group("watched-test", lambda m: first(m["seq"]))
        await layer.watch_group("watched-test", lambda m: second(m["seq"]))
        callbacks = list(layer._get_layer().watchers[group_channel])
        await layer.group_send("watched-test", state(1, 1))
        await asyncio.wait_for(_until(lambda: seen[0] and seen[1]), 5)
        await layer.unwatch_group("watched-test", callbacks[0])
        still = group_channel in shard._subscribed_to
        await layer.group_send("watched-test", state(1, 2))
        await asyncio.wait_for(_until(lambda: seen[1] == [1, 2]), 5)
        await layer.unwatch_group("watched-test", callbacks[1])
        gone = group_channel not in shard._subscribed_to
        await layer.flush()
        return still, gone

    still, gone = async_to_sync(scenario)()
    assert seen == [[1], [1, 2]]
    assert still and gone


async def _until(predicate) -> None:
    while not predicate():
        await asyncio.sleep(0.01)


@pytest.mark.redis
def test_a_group_stays_subscribed_while_it_has_a_member_or_a_watcher(settings):
    layer = BoundedRedisPubSubChannelLayer(hosts=[settings.REDIS_URL])

    def watcher(message):
        pass

    async def scenario():
        loop_layer = layer._get_layer()
        shard = loop_layer._shards[0]
        group_channel = loop_layer._get_group_channel_name("kept-test")
        channel = await layer.new_channel()
        await layer.group_add("kept-test", channel)
        await layer.watch_group("kept-test", watcher)
        await layer.unwatch_group("kept-test", watcher)
        member_keeps_it = group_channel in shard._subscribed_to
        await layer.watch_group("kept-test", watcher)
        await layer.group_discard("kept-test", channel)
        watcher_keeps_it = group_channel in shard._subscribed_to
        await layer.unwatch_group("kept-test", watcher)
        gone = group_channel not in shard._subscribed_to
        await layer.flush()
        return member_keeps_it, watcher_keeps_it, gone

    assert async_to_sync(scenario)() == (True, True, True)
