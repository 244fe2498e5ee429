"""MAX_SOCKETS_PER_USER counted in Redis (progress/sockets/socketcount.py): a storm's
connects share one script per batch, and no place is left held by a connect that gave up."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from redis import asyncio as aioredis

from progress.sockets.socketcount import FULL, TAKEN, TOO_FAST, RedisSocketCount

pytestmark = [pytest.mark.redis]


def counter(prefix: str) -> RedisSocketCount:
    return RedisSocketCount({"address": os.environ["REDIS_URL"]}, prefix)


@pytest.fixture
async def count(settings):
    settings.PROGRESS = {"MAX_SOCKETS_PER_USER": 20, "CONNECT_BURST": 1000}
    counter = RedisSocketCount({"address": os.environ["REDIS_URL"]}, f"t{uuid.uuid4().hex[:8]}")
    scripts = []
    original = counter._redis.eval

    async def counted_eval(*args):
        scripts.append(args[1] // 2)  # how many places the script takes (two keys each)
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
    assert taken.count(TAKEN) == 20 and taken.count(FULL) == 10
    assert taken_by_bob == TAKEN
    assert await members(count, "alice") == 20
    # 31 places asked for in at most two scripts (the first alone, the rest waiting for it).
    assert sum(count.scripts) == 31 and len(count.scripts) <= 3


async def test_a_place_given_back_is_free_for_the_next_socket(count):
    taken = await asyncio.gather(*(count.take("alice", f"s{i}") for i in range(20)))
    assert set(taken) == {TAKEN}
    assert await count.take("alice", "late") == FULL
    count.give_back("alice", "s0")
    await asyncio.sleep(0.1)  # the removal runs as its own task
    assert await count.take("alice", "late") == TAKEN


async def test_a_connect_that_gives_up_while_redis_answers_holds_no_place(count):
    waiting = [asyncio.ensure_future(count.take("alice", f"s{i}")) for i in range(5)]
    await asyncio.sleep(0)  # all five are in the batch
    waiting[0].cancel()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError) and results[1:] == [TAKEN] * 4
    await asyncio.sleep(0.1)
    assert await members(count, "alice") == 4


async def test_the_connect_rate_is_the_users_across_processes(count, settings):
    settings.PROGRESS = {"MAX_SOCKETS_PER_USER": 20, "CONNECT_RATE": 0.01, "CONNECT_BURST": 3}
    other_process = counter(count._prefix)  # another serving process on the same Redis
    outcomes = [await (count if i % 2 else other_process).take("alice", f"s{i}") for i in range(4)]
    assert outcomes == [TAKEN, TAKEN, TAKEN, TOO_FAST]
    assert await other_process.take("bob", "b") == TAKEN  # per user
    assert await members(count, "alice") == 3  # a connect refused for its rate holds no place
    await other_process._redis.aclose()


async def test_a_connect_cancelled_as_its_place_is_taken_gives_the_place_back(count):
    counted = count._redis.eval
    connect = []

    async def answer_then_cancel(*args):
        result = await counted(*args)
        # The client leaves after Redis took the place, before the connect's task wakes.
        asyncio.get_running_loop().call_soon(connect[0].cancel)
        return result

    count._redis.eval = answer_then_cancel
    connect.append(asyncio.ensure_future(count.take("alice", "s0")))
    with pytest.raises(asyncio.CancelledError):
        await connect[0]
    await asyncio.sleep(0.1)  # the removal runs as its own task
    assert await members(count, "alice") == 0 and not count._held


async def test_a_connect_rate_of_zero_allows_the_burst_then_refuses(count, settings, caplog):
    settings.PROGRESS = {"MAX_SOCKETS_PER_USER": 20, "CONNECT_RATE": 0, "CONNECT_BURST": 2}
    outcomes = [await count.take("alice", f"s{i}") for i in range(3)]
    assert outcomes == [TAKEN, TAKEN, TOO_FAST]
    assert "cannot be counted in Redis" not in caplog.text  # counted in Redis, no outage


async def test_an_unreachable_redis_counts_every_waiting_connect_here_at_once(settings):
    settings.PROGRESS = {"MAX_SOCKETS_PER_USER": 2}
    unreachable = RedisSocketCount({"address": "redis://127.0.0.1:1/0"}, "nowhere")
    outcomes = await asyncio.gather(*(unreachable.take("alice", f"s{i}") for i in range(250)))
    assert outcomes.count(TAKEN) == 2 and outcomes.count(FULL) == 248  # the cap, per process
