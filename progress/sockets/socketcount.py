"""How many sockets a user holds open, for MAX_SOCKETS_PER_USER, and how fast they open
them, for CONNECT_RATE: across every serving process when the channel layer is Redis, in
this process's memory otherwise (where progress.sockets.throttle is the rate's only check).

Why across processes (issues 25 and 26): counted per process, a user behind a proxy that
spreads sockets over N daphnes could hold N times the cap. In Redis each user has one sorted
set of their sockets, scored by when the entry expires (Redis' own clock, so machines need
not agree on the time). A serving process renews its sockets' entries every
SOCKET_COUNT_TTL / 3 seconds, so the places of a process that died free themselves within
SOCKET_COUNT_TTL (20 s). If Redis cannot be reached, the count falls back to this process (the
cap still bounds one process's memory, which is what a flood exhausts) and says so once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import uuid
from collections import Counter
from typing import Any

from django.conf import settings

from progress import conf
from progress.publish.outage import Outage

logger = logging.getLogger(__name__)

# Seconds a socket's entry lives in Redis unless its process renews it (every third of it):
# a process that died without closing its sockets holds its users' places this long.
SOCKET_COUNT_TTL = 20
# Redis connections a process's count uses (one batch at a time takes places; giving places
# back and renewing them use the others).
REDIS_CONNECTIONS = 4
# Seconds a batch may wait for Redis before its connects, and every connect waiting behind
# it, are counted in this process instead.
REDIS_TIMEOUT_SECONDS = 1.0
# The longest a user's connect bucket is kept in Redis (CONNECT_BURST / CONNECT_RATE
# seconds refill it; a rate of 0 would never).
MAX_BUCKET_SECONDS = 86_400
# Most members one script takes places for: a storm's connects that wait while the script
# before runs go to Redis together (one call costs redis-py about 110 µs of CPU, each place
# in a batch about 20 µs: bench figure S).
TAKE_BATCH = 100
# Per connect i, KEYS[2i-1] is the user's sockets, KEYS[2i] their connect bucket and
# ARGV[5+i] the socket. First the connect rate: a token bucket of ARGV[3] connects a second,
# at most ARGV[4] held (CONNECT_RATE, CONNECT_BURST) and kept ARGV[5] seconds, in Redis so it
# holds across
# processes; none left answers 2. Then the cap: drop expired entries, count, add (1), or 0
# when the user holds ARGV[1] already. One script, so two processes cannot both take the
# last place; a user named twice in one batch sees the first place taken. TIME is Redis'
# clock.
_TAKE = """
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local limit = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local bucket_ttl = tonumber(ARGV[5])
local outcome = {}
for i = 1, #KEYS / 2 do
  local sockets, connects = KEYS[2 * i - 1], KEYS[2 * i]
  local bucket = redis.call('HMGET', connects, 'tokens', 'at')
  local tokens = tonumber(bucket[1]) or burst
  local at = tonumber(bucket[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
  if tokens < 1 then
    outcome[i] = 2
  else
    tokens = tokens - 1
    redis.call('ZREMRANGEBYSCORE', sockets, '-inf', now)
    if redis.call('ZCARD', sockets) >= limit then
      outcome[i] = 0
    else
      redis.call('ZADD', sockets, now + ttl, ARGV[5 + i])
      redis.call('EXPIRE', sockets, ttl)
      outcome[i] = 1
    end
  end
  redis.call('HSET', connects, 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('EXPIRE', connects, bucket_ttl)
end
return outcome
"""
_RENEW = """
local now = tonumber(redis.call('TIME')[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[i - 1], 'XX', now + tonumber(ARGV[1]), ARGV[i])
  redis.call('EXPIRE', KEYS[i - 1], tonumber(ARGV[1]))
end
return 1
"""


# What take() answers.
TAKEN = "taken"
FULL = "full"  # the user holds MAX_SOCKETS_PER_USER sockets already: close with 4029
TOO_FAST = "too fast"  # over CONNECT_RATE across processes: close with 4030
_OUTCOMES = {1: TAKEN, 0: FULL, 2: TOO_FAST}


class LocalSocketCount:
    """Sockets per user in this process (the in-memory layer serves one process anyway)."""

    def __init__(self) -> None:
        self.open: Counter[str] = Counter()

    async def take(self, user_key: str, socket_id: str) -> str:
        """Take a place under MAX_SOCKETS_PER_USER: TAKEN, or FULL when the user has none
        left (the connect rate in this process is progress.sockets.throttle's)."""
        if self.open[user_key] >= conf.get("MAX_SOCKETS_PER_USER"):
            return FULL
        self.open[user_key] += 1
        return TAKEN

    def give_back(self, user_key: str, socket_id: str) -> None:
        self.open[user_key] -= 1
        if self.open[user_key] <= 0:
            del self.open[user_key]


class RedisSocketCount:
    """Sockets per user across every process that shares this Redis."""

    def __init__(self, host: dict[str, Any], prefix: str) -> None:
        from redis import asyncio as aioredis

        # The layer's host as channels-redis reads it ({"address": url, ...options}), with
        # short timeouts: a Redis that does not answer must not hold a connect, which then
        # counts in this process instead.
        options = {key: value for key, value in host.items() if key != "address"}
        options["socket_timeout"] = REDIS_TIMEOUT_SECONDS
        options["socket_connect_timeout"] = REDIS_TIMEOUT_SECONDS
        # The layer's own pool size is for its subscriptions; this count needs a few.
        options["max_connections"] = REDIS_CONNECTIONS
        options.setdefault("timeout", REDIS_TIMEOUT_SECONDS)
        address = host.get("address")
        pool = (
            aioredis.BlockingConnectionPool.from_url(address, **options)
            if isinstance(address, str)
            else aioredis.BlockingConnectionPool(**options)
        )
        self._redis = aioredis.Redis(connection_pool=pool)
        self._prefix = prefix
        # This process's sockets in Redis: (user id, member) -> None, renewed periodically.
        self._held: dict[tuple[str, str], None] = {}
        self._renewal: asyncio.Task[None] | None = None
        # Connects waiting for the next batch, and the task that sends the batches.
        self._waiting: list[tuple[str, str, asyncio.Future[str]]] = []
        self._taker: asyncio.Task[None] | None = None
        self._process = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.local = LocalSocketCount()  # while Redis is down
        self._fallback: dict[tuple[str, str], None] = {}
        self._outage = Outage(
            logger,
            down="Open sockets per user cannot be counted in Redis (%s: %s); counting this "
            "process's sockets only until Redis is back.",
            recovered="Open sockets per user are counted in Redis again.",
        )

    def key(self, user_key: str) -> str:
        return f"{self._prefix}:progress:sockets:{user_key}"

    def rate_key(self, user_key: str) -> str:
        return f"{self._prefix}:progress:connects:{user_key}"

    async def take(self, user_key: str, socket_id: str) -> str:
        """Take a connect under CONNECT_RATE and a place under MAX_SOCKETS_PER_USER, across
        processes: TAKEN, FULL or TOO_FAST.

        Connects that arrive while a batch is in Redis wait for the next one (_take_waiting):
        a storm costs a script per batch, not per connect.
        """
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str] = loop.create_future()
        self._waiting.append((user_key, socket_id, answer))
        if self._taker is None or self._taker.done():
            self._taker = loop.create_task(self._take_waiting())
        try:
            return await answer
        except asyncio.CancelledError:
            # Cancelled after the place was taken but before this task woke: give it back,
            # or its entry would be renewed for as long as the process lives.
            if answer.done() and not answer.cancelled() and answer.result() == TAKEN:
                self.give_back(user_key, socket_id)
            raise

    async def _take_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:TAKE_BATCH], self._waiting[TAKE_BATCH:]
            try:
                await self._take_batch(batch)
            except Exception as exc:
                self._outage.failed(exc)
                # Redis did not answer (within REDIS_TIMEOUT_SECONDS) or answered nonsense:
                # this batch and every connect waiting behind it count here, so a storm
                # does not wait a timeout per batch.
                batch, self._waiting = batch + self._waiting, []
                for user_key, socket_id, answer in batch:
                    if not answer.done():
                        await self._take_here(user_key, socket_id, answer)

    async def _take_batch(self, batch: list[tuple[str, str, asyncio.Future[str]]]) -> None:
        members = [f"{self._process}:{socket_id}" for _, socket_id, _ in batch]
        keys = [key for user_key, _, _ in batch for key in self._keys(user_key)]
        rate, burst = conf.get("CONNECT_RATE"), conf.get("CONNECT_BURST")
        refill = math.ceil(burst / rate) + 1 if rate > 0 else MAX_BUCKET_SECONDS
        replies = await self._redis.eval(
            _TAKE,
            len(keys),
            *keys,
            conf.get("MAX_SOCKETS_PER_USER"),
            SOCKET_COUNT_TTL,
            rate,
            burst,
            max(1, min(MAX_BUCKET_SECONDS, refill)),
            *members,
        )
        outcomes = [_OUTCOMES[int(code)] for code in replies]
        if len(outcomes) != len(batch):
            raise ValueError(f"the count script answered {len(outcomes)} of {len(batch)}")
        self._outage.succeeded()
        for (user_key, _, answer), member, outcome in zip(batch, members, outcomes, strict=True):
            if outcome != TAKEN:
                if not answer.done():
                    answer.set_result(outcome)
            elif answer.done():
                # The connect was cancelled (the client left) while Redis answered.
                self._forget(user_key, member)
            else:
                self._held[(user_key, member)] = None
                answer.set_result(TAKEN)
        if self._held and (self._renewal is None or self._renewal.done()):
            self._renewal = asyncio.get_running_loop().create_task(self._renew())

    def _keys(self, user_key: str) -> tuple[str, str]:
        return self.key(user_key), self.rate_key(user_key)

    async def _take_here(self, user_key: str, socket_id: str, answer: asyncio.Future[str]) -> None:
        """Redis could not be asked: count the socket in this process."""
        outcome = await self.local.take(user_key, socket_id)
        if answer.done():
            if outcome == TAKEN:
                self.local.give_back(user_key, socket_id)
            return
        if outcome == TAKEN:
            self._fallback[(user_key, socket_id)] = None
        answer.set_result(outcome)

    def give_back(self, user_key: str, socket_id: str) -> None:
        if (user_key, socket_id) in self._fallback:
            del self._fallback[(user_key, socket_id)]
            self.local.give_back(user_key, socket_id)
            return
        member = f"{self._process}:{socket_id}"
        if (user_key, member) in self._held:
            del self._held[(user_key, member)]
            self._forget(user_key, member)

    def _forget(self, user_key: str, member: str) -> None:
        task = asyncio.get_running_loop().create_task(self._remove(user_key, member))
        _pending.add(task)
        task.add_done_callback(_pending.discard)

    async def _remove(self, user_key: str, member: str) -> None:
        with contextlib.suppress(Exception):  # unreachable: the entry expires on its own
            await self._redis.zrem(self.key(user_key), member)

    async def _renew(self) -> None:
        while self._held:
            await asyncio.sleep(SOCKET_COUNT_TTL / 3)
            held = list(self._held)
            if not held:
                return
            keys = [self.key(user_key) for user_key, _ in held]
            try:
                await self._redis.eval(
                    _RENEW, len(keys), *keys, SOCKET_COUNT_TTL, *[m for _, m in held]
                )
            except Exception as exc:
                self._outage.failed(exc)


def counted_user_key(user: Any) -> str:
    """Whose sockets: the user's id, and when they joined, so that an id a database reuses
    (tests, a restored backup) does not inherit places held in Redis by its old owner."""
    joined = getattr(user, "date_joined", None)
    return f"{user.pk}" if joined is None else f"{user.pk}.{int(joined.timestamp() * 1e6)}"


_pending: set[asyncio.Task[None]] = set()
_counts: dict[tuple[asyncio.AbstractEventLoop, str], LocalSocketCount | RedisSocketCount] = {}


def socket_count() -> LocalSocketCount | RedisSocketCount:
    """This loop's count for the progress channel layer: in Redis when it is a Redis layer."""
    loop = asyncio.get_running_loop()
    alias = conf.get("CHANNEL_LAYER")
    count = _counts.get((loop, alias))
    if count is None:
        for key in [key for key in _counts if key[0].is_closed()]:
            del _counts[key]
        count = _counts[(loop, alias)] = _for_layer(settings.CHANNEL_LAYERS.get(alias, {}))
    return count


def _for_layer(layer_settings: dict[str, Any]) -> LocalSocketCount | RedisSocketCount:
    config = layer_settings.get("CONFIG", {})
    if "redis" not in layer_settings.get("BACKEND", "").lower():
        return LocalSocketCount()
    hosts = config.get("hosts") or []
    host = hosts[0] if hosts else None
    if isinstance(host, str):
        host = {"address": host}
    elif isinstance(host, (list, tuple)):
        host = {"address": f"redis://{host[0]}:{host[1]}"}
    if not isinstance(host, dict) or "sentinels" in host or "master_name" in host:
        logger.warning(
            "MAX_SOCKETS_PER_USER is counted per process: the channel layer's first host "
            "(%r) is not a Redis address this count can use (Sentinel is not supported).",
            host,
        )
        return LocalSocketCount()
    try:
        return RedisSocketCount(host, config.get("prefix", "asgi"))
    except Exception:  # options this client does not take: count here, and say so
        logger.warning(
            "MAX_SOCKETS_PER_USER is counted per process: a Redis client for the channel "
            "layer's first host could not be made.",
            exc_info=True,
        )
        return LocalSocketCount()
