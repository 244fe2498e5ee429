"""The channel layer for production: channels-redis' pub/sub layer with bounded queues.

Why pub/sub and not channels-redis' core layer (bench/, docs/benchmarks.md):
- a group message is published once and fanned out inside each server process, instead of
  one Redis list push per member and one blocking pop per message per client;
- group membership lives in the serving process, so connections that died without a
  group_discard leave nothing behind (with the core layer they stay in the group until
  group_expiry and every group_send pays for them).

What it gives up: messages are not stored (a process that is down misses them) and the
stock layer's per-channel queue is unbounded. Progress is state, so both are fine here
once the queue is bounded: a consumer that falls behind loses its oldest messages, never
the newest, and snapshot/resync (driven by the client) restore anything it missed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
from channels_redis.utils import _wrap_close

DEFAULT_CAPACITY = 100


class DropOldestQueue(asyncio.Queue[Any]):
    """A bounded queue that makes room for a new message by dropping the oldest one."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self.dropped = 0

    def put_nowait(self, item: Any) -> None:
        if self.full():
            self.get_nowait()
            self.dropped += 1
        super().put_nowait(item)


class BoundedPubSubLoopLayer(RedisPubSubLoopLayer):
    """One event loop's pub/sub layer, with a bounded queue per channel."""

    def __init__(self, *args: Any, capacity: int = DEFAULT_CAPACITY, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.capacity = capacity

    async def _subscribe_to_channel(self, channel: str) -> None:
        self.channels[channel] = DropOldestQueue(self.capacity)
        shard = self._get_shard(channel)
        await shard.subscribe(channel)


class BoundedRedisPubSubChannelLayer(RedisPubSubChannelLayer):
    """channels-redis' RedisPubSubChannelLayer whose per-channel queues hold at most
    CONFIG["capacity"] messages (default 100), dropping the oldest."""

    def _get_layer(self) -> BoundedPubSubLoopLayer:
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = BoundedPubSubLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer
