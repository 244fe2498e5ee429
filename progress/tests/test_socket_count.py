"""MAX_SOCKETS_PER_USER counted in Redis (progress/sockets/socketcount.py): a storm's
connects share one script per batch, and no place is left held by a connect that gave up."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from redis import asyncio as aioredis

from progress.sockets.socketcount import RedisSocketCount

pytestmark = [pytest.mark.redis]


@pytest.fixture
async def count(settings):
    settings.PROGRESS = {"MAX_SOCKETS_PER_USER": 20}
    counter = RedisSocketCount({"address": os.environ["REDIS_URL"]}, f"t{uuid.uuid4().hex[:8]}")
    scripts = []
    original = counter._redis.eval

    async def counted_eval(*args):
        scripts.append(args[1])  # how many places the script takes
        return await original(*args)

    counter._redis.eval = counted_eval
    counter.scripts = scripts
    yield counter
    client = aioredis.from_url(os.environ["REDIS_URL"])
    keys = [key async for key in client.scan_iter(f"{counter._prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def members(counter: RedisSocketCount, user_key: str) -> int:
    client = aioredis.from_url(os.environ["REDIS_URL"])
    try:
        return await client.zcard(counter.key(user_key))
    finally:
        await client.aclose()


async def test_a_storm_of_takes_shares_scripts_and_keeps_the_cap(count):
    taken = await asyncio.gather(*(count.take("alice", f"socket-{i}") for i in range(30)))
    taken_by_bob = await count.take("bob", "socket-b")
    assert taken.count(True) == 20 and taken.count(False) == 10
    assert taken_by_bob
    assert await members(count, "alice") == 20
    # 31 places asked for in at most two scripts (the first alone, the rest waiting for it).
    assert sum(count.scripts) == 31 and len(count.scripts) <= 3


async def test_a_place_given_back_is_free_for_the_next_socket(count):
    assert all(await asyncio.gather(*(count.take("alice", f"s{i}") for i in range(20))))
    assert not await count.take("alice", "late")
    count.give_back("alice", "s0")
    await asyncio.sleep(0.1)  # the removal runs as its own task
    assert await count.take("alice", "late")


async def test_a_connect_that_gives_up_while_redis_answers_holds_no_place(count):
    waiting = [asyncio.ensure_future(count.take("alice", f"s{i}")) for i in range(5)]
    await asyncio.sleep(0)  # all five are in the batch
    waiting[0].cancel()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError) and results[1:] == [True] * 4
    await asyncio.sleep(0.1)
    assert await members(count, "alice") == 4
