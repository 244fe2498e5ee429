"""The fan-out of run states to a process's sockets (progress/sockets/fanout.py, issue 12)."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer

from progress import protocol
from progress.layers import BoundedRedisPubSubChannelLayer
from progress.sockets import fanout
from progress.sockets.fanout import batch_frames, fanout_for
from progress.tests.waiting import aeventually

GROUP = "progress.all"


def event(run_id: int, seq: int, kind: str = "progress_update", size: int = 0) -> dict:
    data = {"id": run_id, "seq": seq, "pad": "x" * size}
    text = json.dumps({"type": kind, "data": data}, separators=(",", ":"))
    return {"type": protocol.LAYER_EVENT, "id": run_id, "seq": seq, "text": text}


class Socket:
    """A consumer as the fan-out sees it: what the client holds, and a send."""

    def __init__(self, name: str = "socket", held: dict[int, int] | None = None) -> None:
        self.sent = dict(held or {})
        self.channel_name = name
        self.seed_protocol = False
        self.view_shown = False
        self.frames: list[str] = []

    async def send(self, text_data: str | None = None) -> None:
        self.frames.append(text_data or "")

    def states(self) -> list[tuple[int, int, str]]:
        """(run id, seq, type) of every state received, batch frames unpacked."""
        out = []
        for frame in self.frames:
            message = json.loads(frame)
            for e in (
                message["events"] if message["type"] == protocol.FRAME_TYPES["batch"] else [message]
            ):
                out.append((e["data"]["id"], e["data"]["seq"], e["type"]))
        return out


class CountingLayer(InMemoryChannelLayer):
    """The in-memory layer, counting group joins and leaves."""

    def __init__(self) -> None:
        super().__init__()
        self.adds: list[tuple[str, str]] = []
        self.discards: list[tuple[str, str]] = []

    async def group_add(self, group: str, channel: str) -> None:
        self.adds.append((group, channel))
        await super().group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        self.discards.append((group, channel))
        await super().group_discard(group, channel)


@pytest.fixture
def layer():
    return CountingLayer()


async def subscribed(layer, sockets, group=GROUP):
    subscriptions = [await fanout_for(layer).subscribe(group, s) for s in sockets]
    for subscription in subscriptions:
        subscription.start()
    return subscriptions


async def test_a_group_is_joined_once_however_many_sockets_listen_and_left_with_the_last(layer):
    sockets = [Socket(f"s{i}") for i in range(50)]
    subscriptions = await subscribed(layer, sockets)
    assert [group for group, _ in layer.adds] == [GROUP]
    assert len(layer.groups[GROUP]) == 1
    for subscription in subscriptions[:-1]:
        subscription.close()
    await asyncio.sleep(0)
    assert layer.discards == []
    subscriptions[-1].close()
    await aeventually(lambda: layer.discards == layer.adds)
    assert GROUP not in fanout_for(layer).feeds


class CostlySocket(Socket):
    """A socket whose send takes the loop `cost` seconds, like a server under load."""

    def __init__(self, name: str = "socket", cost: float = 0.1) -> None:
        super().__init__(name)
        self.cost = cost

    async def send(self, text_data: str | None = None) -> None:
        time.sleep(self.cost)  # blocks the loop on purpose: the flush is what costs
        await super().send(text_data)


async def test_each_socket_gets_one_frame_with_the_newest_state_of_every_run(layer, settings):
    settings.PROGRESS = {"SOCKET_FLUSH_INTERVAL": 1.0}
    sockets = [CostlySocket("a", 0.1), Socket("b")]
    await subscribed(layer, sockets)
    await layer.group_send(GROUP, event(9, 1))  # flushed at once: nothing was flushed before
    await aeventually(lambda: all(s.states() == [(9, 1, "progress_update")] for s in sockets))
    # That flush took 0.1 s, so the next waits 0.1 s: these all go in one frame per socket.
    for seq in range(2, 6):
        await layer.group_send(GROUP, event(1, seq))
        await layer.group_send(GROUP, event(2, seq))
    await aeventually(lambda: all(len(s.frames) == 2 for s in sockets))
    for socket in sockets:
        assert json.loads(socket.frames[1])["type"] == protocol.FRAME_TYPES["batch"]
        assert socket.states()[1:] == [(1, 5, "progress_update"), (2, 5, "progress_update")]
    # The frame both needed whole was encoded once.
    assert sockets[0].frames[1] is sockets[1].frames[1]


async def test_a_shown_view_gets_one_frame_per_flush_for_the_runs_of_all_its_feeds(
    layer, settings, caplog
):
    settings.PROGRESS = {"SOCKET_FLUSH_INTERVAL": 1.0}
    shown = CostlySocket("shown", 0.1)
    shown.view_shown = True  # one feed per shown run, as ws/progress/?view=shown has it
    for run_id in (1, 2, 3):
        await subscribed(layer, [shown], group=f"progress.op.{run_id}")
    await layer.group_send("progress.op.1", event(1, 1))  # flushed at once
    await aeventually(lambda: len(shown.frames) == 1)
    # The flush took 0.1 s, so the next waits 0.1 s: three feeds' states, one frame.
    for run_id in (1, 2, 3):
        await layer.group_send(f"progress.op.{run_id}", event(run_id, 2))
    await aeventually(lambda: len(shown.frames) == 2)
    assert json.loads(shown.frames[1])["type"] == protocol.FRAME_TYPES["batch"]
    assert sorted(shown.states()[1:]) == [
        (1, 2, "progress_update"),
        (2, 2, "progress_update"),
        (3, 2, "progress_update"),
    ]
    await asyncio.sleep(0.3)
    assert len(shown.frames) == 2
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_final_state_is_never_dropped_or_replaced_by_an_older_one(layer, settings):
    settings.PROGRESS = {"SOCKET_FLUSH_INTERVAL": 0.2}
    socket = Socket()
    await subscribed(layer, [socket])
    for seq in range(1, 80):
        await layer.group_send(GROUP, event(1, seq))
        await layer.group_send(GROUP, event(2, seq))
    await layer.group_send(GROUP, event(1, 80, "task_completed"))
    await layer.group_send(GROUP, event(1, 79))  # late and older: must not replace the final
    await layer.group_send(GROUP, event(2, 80))
    await aeventually(lambda: (1, 80, "task_completed") in socket.states())
    await aeventually(lambda: (2, 80, "progress_update") in socket.states())
    assert [s for s in socket.states() if s[0] == 1][-1] == (1, 80, "task_completed")
    assert socket.sent == {1: 80, 2: 80}


async def test_a_socket_gets_nothing_before_its_snapshot_then_only_what_the_snapshot_lacks(layer):
    socket = Socket()
    subscription = await fanout_for(layer).subscribe(GROUP, socket)
    await layer.group_send(GROUP, event(1, 3))
    await layer.group_send(GROUP, event(2, 1))
    await aeventually(lambda: subscription.held.keys() == {1, 2})
    assert socket.frames == []
    socket.sent.update({1: 4, 2: 0})  # the snapshot had run 1 at seq 4, run 2 at seq 0
    subscription.start()
    await aeventually(lambda: socket.states() == [(2, 1, "progress_update")])


async def test_a_late_socket_catches_up_on_what_its_feed_took_in_since_a_snapshot(
    layer, settings, monkeypatch
):
    settings.PROGRESS = {"SNAPSHOT_SHARE_SECONDS": 1.0}
    now = [500.0]
    monkeypatch.setattr(fanout, "monotonic", lambda: now[0])
    first = (await subscribed(layer, [Socket("first")]))[0]
    feed = first.feed
    loaded_at = now[0]  # a snapshot loaded now, shared with a socket that connects later
    for run_id, seq in ((1, 1), (2, 1), (1, 2)):
        now[0] += 0.1
        await layer.group_send(GROUP, event(run_id, seq))
        await aeventually(lambda run_id=run_id, seq=seq: feed.recent[run_id][1]["seq"] == seq)
    late = Socket("late")
    subscription = await fanout_for(layer).subscribe(GROUP, late)
    assert subscription.catch_up(loaded_at)
    late.sent.update({2: 1})  # that snapshot already had run 2 at seq 1
    subscription.start()
    await aeventually(lambda: late.states() == [(1, 2, "progress_update")])
    # Over 2 s on (the share time plus the margin), what arrived before is forgotten: a snapshot
    # loaded back then can no longer be caught up, and must be loaded again.
    now[0] += 2.5
    await layer.group_send(GROUP, event(3, 1))
    await aeventually(lambda: list(feed.recent) == [3])
    assert not (await fanout_for(layer).subscribe(GROUP, Socket("slow"))).catch_up(loaded_at)


async def test_a_socket_still_sending_gets_the_newest_states_when_its_send_ends(layer, settings):
    settings.PROGRESS = {"SOCKET_FLUSH_INTERVAL": 0}
    release = asyncio.Event()

    class SlowSocket(Socket):
        async def send(self, text_data=None):
            await release.wait()
            await super().send(text_data)

    slow, quick = SlowSocket("slow"), Socket("quick")
    (slow_subscription, _) = await subscribed(layer, [slow, quick])
    await layer.group_send(GROUP, event(1, 1))
    await aeventually(lambda: slow_subscription.sending is not None)
    for seq in range(2, 10):
        await layer.group_send(GROUP, event(1, seq))
    await layer.group_send(GROUP, event(2, 1, "task_failed"))
    await aeventually(lambda: (2, 1, "task_failed") in quick.states())
    assert slow.frames == []
    assert sorted((e["id"], e["seq"]) for e in slow_subscription.held.values()) == [(1, 9), (2, 1)]
    release.set()
    await aeventually(
        lambda: (
            slow.states()
            == [(1, 1, "progress_update"), (1, 9, "progress_update"), (2, 1, "task_failed")]
        )
    )


async def test_after_a_costly_flush_states_wait_as_long_as_it_took_at_most_the_interval(
    layer, settings
):
    settings.PROGRESS = {"SOCKET_FLUSH_INTERVAL": 0.3}
    socket = CostlySocket(cost=0.5)
    await subscribed(layer, [socket])
    shared = fanout_for(layer)
    await layer.group_send(GROUP, event(1, 1))
    await aeventually(lambda: len(socket.frames) == 1)
    # The 0.5 s flush is followed by a pause of the interval (0.3 s), not 0.5 s, not none.
    assert shared.pause == 0.3
    flushes = shared.flushes
    for seq in range(2, 30):
        await layer.group_send(GROUP, event(1, seq))
    await aeventually(lambda: len(socket.frames) == 2)
    assert shared.flushes == flushes + 1
    assert socket.states()[-1] == (1, 29, "progress_update")


async def test_with_cheap_flushes_every_state_goes_out_at_once(layer, settings):
    settings.PROGRESS = {"SOCKET_FLUSH_INTERVAL": 5.0}
    socket = Socket()
    await subscribed(layer, [socket])
    for seq in range(1, 6):
        await layer.group_send(GROUP, event(1, seq))
        await aeventually(lambda seq=seq: len(socket.frames) == seq, timeout=2)
        assert fanout_for(layer).pause < 0.1  # a flush of one cheap socket: no pause
    assert [s[1] for s in socket.states()] == [1, 2, 3, 4, 5]


async def test_group_membership_is_renewed_before_the_layer_expires_it(layer, monkeypatch):
    monkeypatch.setattr(fanout, "GROUP_REJOIN_SECONDS", 0.05)
    await subscribed(layer, [Socket()])
    await aeventually(lambda: len(layer.adds) >= 3)
    assert {group for group, _ in layer.adds} == {GROUP}
    assert len({channel for _, channel in layer.adds}) == 1


async def test_other_message_types_and_oversized_frames_are_not_sent(layer, caplog):
    socket = Socket()
    await subscribed(layer, [socket])
    await layer.group_send(GROUP, {"type": "something.else", "text": "{}"})
    huge = event(1, 1, size=protocol.MAX_FRAME_BYTES)
    await layer.group_send(GROUP, huge)
    await layer.group_send(GROUP, event(2, 1))
    await aeventually(lambda: socket.states() == [(2, 1, "progress_update")])
    assert "over MAX_FRAME_BYTES" in caplog.text


async def test_a_feed_that_cannot_receive_retries_logs_once_each_way_and_recovers(
    monkeypatch, caplog
):
    monkeypatch.setattr(fanout, "RECEIVE_RETRY_SECONDS", 0.01)

    class FlakyLayer(CountingLayer):
        failures = 3

        async def receive(self, channel):
            if self.failures:
                self.failures -= 1
                raise ConnectionError("layer down")
            return await super().receive(channel)

    layer = FlakyLayer()
    socket = Socket()
    await subscribed(layer, [socket])
    await aeventually(lambda: layer.failures == 0)
    await layer.group_send(GROUP, event(1, 1))
    await aeventually(lambda: socket.states() == [(1, 1, "progress_update")])
    messages = [r.getMessage() for r in caplog.records if r.name == "progress.sockets.fanout"]
    assert len([m for m in messages if "cannot be received" in m]) == 1
    assert len([m for m in messages if "received again" in m]) == 1


def test_batch_frames_stay_under_the_frame_limit():
    texts = [event(i, 1, size=20_000)["text"] for i in range(10)]
    frames = batch_frames(texts)
    assert len(frames) > 1
    assert all(len(f) <= protocol.MAX_FRAME_BYTES for f in frames)
    events = [e for f in frames for e in json.loads(f).get("events", [json.loads(f)])]
    assert [e["data"]["id"] for e in events] == list(range(10))


@pytest.mark.redis
async def test_with_the_redis_layer_a_group_is_watched_once_and_unsubscribed_with_the_last(
    settings,
):
    layer = BoundedRedisPubSubChannelLayer(hosts=[settings.REDIS_URL])
    sockets = [Socket(f"s{i}") for i in range(20)]
    subscriptions = await subscribed(layer, sockets, group="fanout-redis-test")
    loop_layer = layer._get_layer()
    group_channel = loop_layer._get_group_channel_name("fanout-redis-test")
    assert len(loop_layer.watchers[group_channel]) == 1
    assert group_channel not in loop_layer.groups  # watched: no member channel, no queue
    await layer.group_send("fanout-redis-test", event(1, 1))
    await layer.group_send("fanout-redis-test", event(1, 2, "task_completed"))
    await aeventually(lambda: all((1, 2, "task_completed") in s.states() for s in sockets))
    for subscription in subscriptions:
        subscription.close()
    shard = loop_layer._shards[0]
    await aeventually(lambda: group_channel not in shard._subscribed_to)
    assert group_channel not in loop_layer.watchers
    await layer.flush()


@pytest.mark.redis
async def test_with_the_redis_core_layer_states_arrive_while_consumers_wait_on_their_channels(
    settings,
):
    layer = RedisChannelLayer(hosts=[settings.REDIS_URL], prefix="fanout-core-test")
    # Consumers wait on their own channels (a run page's log lines); the core layer receives
    # a process's channels through one Redis key, so the feed's channel must share it.
    waiting = [asyncio.create_task(layer.receive(await layer.new_channel())) for _ in range(5)]
    sockets = [Socket(f"s{i}") for i in range(3)]
    try:
        await subscribed(layer, sockets, group="fanout-core-test")
        for seq in range(1, 21):
            await layer.group_send("fanout-core-test", event(1, seq))
        await aeventually(
            lambda: all((1, 20, "progress_update") in s.states() for s in sockets), timeout=3
        )
    finally:
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        await layer.flush()
