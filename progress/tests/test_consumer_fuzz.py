"""Random and hostile frames against the consumer, and a connect/disconnect soak."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from progress import protocol
from progress.tests.wsutil import open_socket, receive

pytestmark = pytest.mark.django_db(transaction=True)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)
messages = st.fixed_dictionaries(
    {"type": st.sampled_from(["ping", "resync", "subscribe", "", "snapshot", "pong"])},
    optional={
        "since": json_values | st.dictionaries(st.text(max_size=6), json_values, max_size=20)
    },
)
frames = st.one_of(
    st.text(max_size=300).map(lambda t: ("text", t)),
    st.binary(max_size=300).map(lambda b: ("bytes", b)),
    json_values.map(lambda v: ("text", json.dumps(v))),
    messages.map(lambda m: ("text", json.dumps(m))),
    st.integers(70_000, 200_000).map(lambda n: ("text", "x" * n)),
)
ALLOWED_REPLIES = {"error", "pong", "resync", "heartbeat"}
ALLOWED_CLOSES = {protocol.CLOSE_RATE_LIMITED, protocol.CLOSE_MESSAGE_TOO_BIG}
# Tests that open thousands of sockets as one user, faster than CONNECT_RATE allows.
UNTHROTTLED_CONNECTS = {"CONNECT_RATE": 1e9, "CONNECT_BURST": 10**9}


async def exchange(user, sequence):
    bystander, _ = await open_socket("/ws/progress/", user)
    await receive(bystander)
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    for kind, payload in sequence:
        # send_input, not send_to: the helper refuses empty frames, a client may not.
        await communicator.send_input({"type": "websocket.receive", kind: payload})
        output = await communicator.receive_output(5)
        if output["type"] == "websocket.close":
            assert output["code"] in ALLOWED_CLOSES
            break
        reply = json.loads(output["text"])
        assert reply["type"] in ALLOWED_REPLIES, reply
        if reply["type"] == "error":
            assert reply["message"]  # says what to fix
    else:
        await communicator.disconnect()
    await bystander.send_json_to({"type": "ping"})
    assert await receive(bystander) == {"type": "pong"}  # others unaffected
    await bystander.disconnect()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(sequence=st.lists(frames, min_size=1, max_size=8))
def test_random_frames_get_errors_or_a_clean_close_and_never_hurt_others(
    user, in_memory_layer, settings, sequence
):
    settings.PROGRESS = UNTHROTTLED_CONNECTS  # two sockets per example, one user
    async_to_sync(exchange)(user, sequence)


def test_a_flood_of_pings_is_cut_off_with_4008(user, in_memory_layer, settings):
    settings.PROGRESS = {"CLIENT_RATE": 5.0, "CLIENT_BURST": 20}

    async def flood():
        communicator, _ = await open_socket("/ws/progress/", user)
        await receive(communicator)
        for _ in range(500):
            await communicator.send_json_to({"type": "ping"})
        codes = []
        while True:
            output = await communicator.receive_output(5)
            if output["type"] == "websocket.close":
                codes.append(output["code"])
                break
        return codes

    assert async_to_sync(flood)() == [protocol.CLOSE_RATE_LIMITED]


def test_thousands_of_connects_and_disconnects_leave_no_groups_behind(
    user, staff, in_memory_layer, settings
):
    settings.PROGRESS = UNTHROTTLED_CONNECTS
    layer = get_channel_layer()

    async def soak(rounds):
        for i in range(rounds):
            communicator, _ = await open_socket("/ws/progress/", staff if i % 2 else user)
            await receive(communicator)
            await communicator.disconnect()

    async_to_sync(soak)(50)  # warm-up: first-use objects (relay, sweeper) exist now
    baseline = sum(len(members) for members in layer.groups.values())
    async_to_sync(soak)(2000)
    assert sum(len(members) for members in layer.groups.values()) == baseline == 0


@pytest.mark.redis
def test_connect_disconnect_soak_leaves_no_redis_subscriptions_or_members(user, settings):
    import redis

    assert settings.CHANNEL_LAYERS["default"]["BACKEND"].endswith("RedisPubSubChannelLayer")
    settings.PROGRESS = UNTHROTTLED_CONNECTS
    client = redis.Redis.from_url(settings.REDIS_URL)
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    group_channel = f"{prefix}__group__{protocol.user_group(user.pk)}"
    layer = get_channel_layer()

    async def soak(rounds):
        for _ in range(rounds):
            communicator, _ = await open_socket("/ws/progress/", user)
            await receive(communicator)
            await communicator.disconnect()
        # In this loop's layer: no consumer left in the user's group, no queue left over.
        loop_layer = layer._get_layer()
        return loop_layer.groups.get(group_channel, set()), len(loop_layer.channels)

    members, queues = async_to_sync(soak)(300)
    assert members == set() and queues == 0
    assert dict(client.pubsub_numsub(group_channel)) == {group_channel.encode(): 0}
