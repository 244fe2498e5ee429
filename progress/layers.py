"""The channel layer for production: channels-redis' pub/sub layer with bounded queues.

Why pub/sub and not channels-redis' core layer (bench/, docs/benchmarks.md):
- a group message is published once and fanned out inside each server process, instead of
  one Redis list push per member and one blocking pop per message per client;
- group membership lives in the serving process, so connections that died without a
  group_discard leave nothing behind (with the core layer they stay in the group until
  group_expiry and every group_send pays for them).

What it gives up: messages are not stored (a process that is down misses them) and the
stock layer's per-channel queue is unbounded. Progress is state, so both are fine here
once the queue is bounded by run: a consumer that falls behind holds only the newest
state of each run (a newer one replaces the queued one, a final is never dropped), and
snapshot/resync (driven by the client) restore anything it missed.

Two costs of the stock layer per connection are gone (bench/, figures S and O):
- a message from Redis is deserialised once per process, not once per member channel;
- a consumer's own channel is not subscribed in Redis. Channels made by new_channel() are
  named "<prefix><inbox>!<id>", as channels-redis' core layer names process channels: a
  send() to one of this process is handed to its queue (on its own event loop, from any
  thread), and a send() from another process is published once to the owner's inbox, the
  one Redis channel each event loop's layer subscribes.
- Channels not made by new_channel() (general channels) are subscribed in Redis when
  received on, as in the stock layer.
Consumers must not mutate the messages they receive: members of a group share one.

Group watches (watch_group/unwatch_group) hand each message of a group to a callback as
it is read, before any member's queue: the fan-out feeds run states to a process's
sockets that way.

The module imports nothing of the app but its protocol, which imports no Django: it works
without Django set up, and channels-redis' own tests run against it
(progress/tests/conformance/).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close

# The wire's vocabulary only (no Django): this module works before Django is set up.
from progress.protocol import LAYER_EVENT, is_newer

__all__ = ["BoundedRedisPubSubChannelLayer"]

logger = logging.getLogger(__name__)

DEFAULT_CAPACITY = 100
# Marks channels made by new_channel(): "<prefix>specific.<inbox>!<id>".
PROCESS_CHANNEL_MARK = "!"
INBOX_ID_LENGTH = 32  # uuid4().hex


def is_state(message: Any) -> bool:
    """True for a run state: a dict message of type protocol.LAYER_EVENT."""
    return isinstance(message, dict) and message.get("type") == LAYER_EVENT


def is_final(message: Any) -> bool:
    """True for a run state that is final (completed, failed, cancelled, stalled)."""
    return is_state(message) and message.get("final") is True


def inbox_of(channel: str) -> str | None:
    """The inbox id of a channel made by new_channel(); None for a general channel."""
    head, mark, _ = channel.rpartition(PROCESS_CHANNEL_MARK)
    if not mark or len(head) < INBOX_ID_LENGTH:
        return None
    return head[-INBOX_ID_LENGTH:]


class LatestStateQueue(asyncio.Queue[Any]):
    """A consumer's queue that holds at most one state per run, bounded by capacity.

    A run event ({"type": "progress.event", "id", "seq", "text"}) replaces the queued
    state of the same run if it is newer (and is dropped if older). When the queue is full,
    room is made by dropping the oldest entry that is not a final state; finals are never
    dropped, so the queue can exceed capacity by the number of runs that just finished.
    Other messages queue in order and may be dropped when full, oldest first.
    """

    def __init__(self, maxsize: int) -> None:
        self.capacity = maxsize
        self.dropped = 0
        self.replaced = 0
        self._serial = itertools.count()
        super().__init__(0)

    def _init(self, maxsize: int) -> None:
        self._queue: OrderedDict[Any, dict[str, Any]] = OrderedDict()

    def qsize(self) -> int:
        return len(self._queue)

    def put_nowait(self, item: dict[str, Any]) -> None:
        """Queue item (never full); asyncio.Queue's task counting is left out: it runs once
        per member for every group message, and nothing here joins the queue."""
        self._put(item)
        getters = self._getters  # type: ignore[attr-defined]
        if getters:
            self._wakeup_next(getters)  # type: ignore[attr-defined]

    def _put(self, item: dict[str, Any]) -> None:
        queue = self._queue
        if is_state(item):
            key: Any = item["id"]
            held = queue.get(key)
            if held is not None:
                if is_newer(item, held):
                    queue[key] = item
                    self.replaced += 1
                else:
                    self.dropped += 1
                return
        else:
            key = ("message", next(self._serial))
        if len(queue) >= self.capacity:
            self._make_room()
        queue[key] = item

    def _make_room(self) -> None:
        for key, held in self._queue.items():
            if not is_final(held):
                del self._queue[key]
                self.dropped += 1
                return

    def _get(self) -> dict[str, Any]:
        return self._queue.popitem(last=False)[1]


class BoundedShardConnection(RedisSingleShardConnection):
    """One Redis connection's subscriber that decodes each message once, for every member."""

    def _receive_message(self, message: Any) -> None:
        if message is None:
            return
        name = message["channel"]
        if isinstance(name, bytes):
            name = name.decode()
        layer = self.channel_layer
        if name == layer.inbox_channel:
            envelope = layer.channel_layer.deserialize(message["data"])
            layer.deliver(envelope["channel"], envelope["message"])
            return
        members = [name] if name in layer.channels else layer.groups.get(name, ())
        watchers = layer.watchers.get(name, ())
        if not (members or watchers):
            return
        decoded = layer.channel_layer.deserialize(message["data"])
        for watcher in watchers:
            watcher(decoded)
        for channel in tuple(members):
            queue = layer.channels.get(channel)
            if queue is not None:
                queue.put_nowait(decoded)


class BoundedPubSubLoopLayer(RedisPubSubLoopLayer):
    """One event loop's pub/sub layer, with a latest-state queue per channel."""

    def __init__(self, *args: Any, capacity: int = DEFAULT_CAPACITY, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.capacity = capacity
        self.loop = asyncio.get_running_loop()
        # Channels made here are "<prefix>...<inbox_id>!<id>"; other processes reach them
        # through one Redis channel, inbox_channel, subscribed with the first of them.
        self.inbox_id = uuid.uuid4().hex
        self.inbox_channel = f"{self.prefix}inbox.{self.inbox_id}"
        self._inbox_subscribed = False
        # Callbacks per group channel: see watch_group().
        self.watchers: dict[str, list[Callable[[dict[str, Any]], None]]] = {}
        hosts = [shard.host for shard in self._shards]
        self._shards: list[RedisSingleShardConnection] = [
            BoundedShardConnection(host, self) for host in hosts
        ]

    async def _subscribe_to_channel(self, channel: str) -> None:
        self.channels[channel] = LatestStateQueue(self.capacity)
        if inbox_of(channel) is None:
            # A general channel (not made by new_channel): others publish to it by name.
            await self._get_shard(channel).subscribe(channel)

    async def new_channel(self, prefix: str = "specific.") -> str:
        """A channel of this process: a local queue, reached from other processes through
        this layer's inbox (one Redis subscription per event loop, not one per channel)."""
        if not self._inbox_subscribed:
            await self._get_shard(self.inbox_channel).subscribe(self.inbox_channel)
            self._inbox_subscribed = True
        channel = f"{self.prefix}{prefix}{self.inbox_id}{PROCESS_CHANNEL_MARK}{uuid.uuid4().hex}"
        self.channels[channel] = LatestStateQueue(self.capacity)
        return channel

    def deliver(self, channel: str, message: Any) -> None:
        """Queue message for channel, if it still exists (in this layer's event loop)."""
        queue = self.channels.get(channel)
        if queue is not None:
            queue.put_nowait(message)

    async def send(self, channel: str, message: Any) -> None:
        """Deliver to a channel of this loop directly; to another process's through its inbox."""
        inbox = inbox_of(channel)
        if inbox == self.inbox_id:
            self.deliver(channel, message)
            return
        owner = self.channel_layer.loop_layer_of_inbox(inbox) if inbox else None
        if owner is not None:
            owner.deliver_threadsafe(channel, message)
        elif inbox is not None:
            envelope = {"channel": channel, "message": message}
            await self._publish(f"{self.prefix}inbox.{inbox}", envelope)
        else:
            await self._publish(channel, message)

    def deliver_threadsafe(self, channel: str, message: Any) -> None:
        """deliver() from another event loop or thread; dropped if this loop is closed."""
        try:
            self.loop.call_soon_threadsafe(self.deliver, channel, message)
        except RuntimeError:
            logger.debug("Dropped a message for %s: its event loop is closed", channel)

    async def _publish(self, channel: str, message: Any) -> None:
        shard = self._get_shard(channel)
        await shard.publish(channel, self.channel_layer.serialize(message))

    async def receive(self, channel: str) -> Any:
        """The next message of channel (already deserialised); forgets it when cancelled."""
        if channel not in self.channels:
            await self._subscribe_to_channel(channel)
        try:
            message = await self.channels[channel].get()
        except (asyncio.CancelledError, TimeoutError, GeneratorExit):
            if self.channels.pop(channel, None) is not None and inbox_of(channel) is None:
                try:
                    await self._get_shard(channel).unsubscribe(channel)
                except BaseException:
                    logger.exception("Could not unsubscribe general channel %s", channel)
            raise
        return message

    async def watch_group(self, group: str, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call callback with every message sent to group, as it arrives from Redis.

        Not a member: no queue, nothing to drain; called before any member's queue gets
        the message. The group stays subscribed in Redis while it is watched.
        """
        group_channel = self._get_group_channel_name(group)
        self.watchers.setdefault(group_channel, []).append(callback)
        await self._get_shard(group_channel).subscribe(group_channel)

    async def unwatch_group(self, group: str, callback: Callable[[dict[str, Any]], None]) -> None:
        """Stop calling callback; unsubscribe in Redis when nobody else watches or listens."""
        group_channel = self._get_group_channel_name(group)
        watchers = self.watchers.get(group_channel)
        if not watchers or callback not in watchers:
            return
        watchers.remove(callback)
        await self._unsubscribe_if_unused(group_channel)

    async def group_discard(self, group: str, channel: str) -> None:
        """Leave group; unsubscribe it in Redis when its last member left and nobody watches."""
        group_channel = self._get_group_channel_name(group)
        members = self.groups.get(group_channel)
        if not members or channel not in members:
            return
        members.discard(channel)
        await self._unsubscribe_if_unused(group_channel)

    async def _unsubscribe_if_unused(self, group_channel: str) -> None:
        """The one rule for both: a group stays subscribed while it has members or watchers."""
        if self.groups.get(group_channel) or self.watchers.get(group_channel):
            return
        self.groups.pop(group_channel, None)
        self.watchers.pop(group_channel, None)
        await self._get_shard(group_channel).unsubscribe(group_channel)

    async def flush(self) -> None:
        """Forget every channel, group and watch, and close the connections (as the stock)."""
        self.watchers = {}
        self._inbox_subscribed = False
        await super().flush()


class BoundedRedisPubSubChannelLayer(RedisPubSubChannelLayer):
    """channels-redis' RedisPubSubChannelLayer whose per-channel queues hold the latest
    state per run, at most CONFIG["capacity"] entries (default 100) but never drop a final."""

    def _get_layer(self) -> BoundedPubSubLoopLayer:
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = BoundedPubSubLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer

    def loop_layer_of_inbox(self, inbox: str) -> BoundedPubSubLoopLayer | None:
        """The loop layer of this process whose channels carry inbox, if any."""
        for layer in list(self._layers.values()):
            if layer.inbox_id == inbox:
                return layer
        return None

    async def watch_group(self, group: str, callback: Callable[[dict[str, Any]], None]) -> None:
        """See BoundedPubSubLoopLayer.watch_group()."""
        await self._get_layer().watch_group(group, callback)

    async def unwatch_group(self, group: str, callback: Callable[[dict[str, Any]], None]) -> None:
        """See BoundedPubSubLoopLayer.unwatch_group()."""
        await self._get_layer().unwatch_group(group, callback)
