"""Random and hostile frames against the consumer, and a connect/disconnect soak."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from progress import protocol
from progress.publish import visibility
from progress.tests.factories import StaffFactory
from progress.tests.wsutil import application, open_socket, receive, session_cookie

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


@pytest.mark.service
@pytest.mark.slow
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


@pytest.mark.service
@pytest.mark.slow
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
    group_channel = f"{prefix}__group__{visibility.user_group(user.pk)}"
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


# --- floods (issue 25): resyncs, pings, reconnects; logout and demotion mid-flood -------

FLOOD_LIMITS = {
    "CLIENT_RATE": 20.0,
    "CLIENT_BURST": 30,
    "CONNECT_RATE": 5.0,
    "CONNECT_BURST": 10,
    "SOCKET_AUTH_RECHECK_SECONDS": 0.2,
}
flood_steps = st.lists(
    st.tuples(
        st.sampled_from(["resync", "ping", "reconnect", "logout", "demote"]),
        st.integers(1, 80),
    ),
    min_size=1,
    max_size=4,
)


async def drain(communicator, quiet: float = 0.3) -> tuple[int, int | None]:
    """Frames received until quiet seconds pass without one, and the close code if any."""
    frames = 0
    while True:
        # receive_nothing, not a timeout of receive_output: that cancels the application.
        if await communicator.receive_nothing(timeout=quiet):
            return frames, None
        output = await communicator.receive_output()
        if output["type"] == "websocket.close":
            return frames, output["code"]
        frames += 1


async def open_with(cookie: bytes):
    """A socket with cookie: (communicator, None) if served a snapshot, else (None, code)."""
    communicator = WebsocketCommunicator(
        application,
        "/ws/progress/",
        headers=[(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie)],
    )
    await communicator.connect()
    output = await communicator.receive_output(5)
    if output["type"] == "websocket.close":
        await communicator.disconnect()
        return None, output["code"]
    return communicator, None


async def flood(steps, bystander_user):
    bystander, _ = await open_socket("/ws/progress/", bystander_user)
    await receive(bystander)
    flooder = await sync_to_async(StaffFactory)()
    cookie = await sync_to_async(session_cookie)(flooder)
    current, code = await open_with(cookie)
    for kind, count in steps:
        if current is None:  # refused or closed: come back after the connect bucket refills
            await asyncio.sleep(1 / FLOOD_LIMITS["CONNECT_RATE"])
            current, code = await open_with(cookie)
            assert code in (None, protocol.CLOSE_CONNECTING_TOO_FAST)
            if current is None:
                continue
        if kind in ("resync", "ping"):
            text = json.dumps({"type": kind, "since": {}} if kind == "resync" else {"type": kind})
            for _ in range(count):
                await current.send_input({"type": "websocket.receive", "text": text})
            frames, code = await drain(current)
            assert frames <= FLOOD_LIMITS["CLIENT_BURST"] + 1  # never past the burst
            assert code in (None, protocol.CLOSE_RATE_LIMITED)
            if count > FLOOD_LIMITS["CLIENT_BURST"]:
                assert code == protocol.CLOSE_RATE_LIMITED  # charged as they arrived
            if code is not None:
                await current.disconnect()
                current = None
        elif kind == "reconnect":
            await current.disconnect()
            started, served = time.monotonic(), 0
            for _ in range(count):
                current, code = await open_with(cookie)
                if current is not None:
                    served += 1
                    await current.disconnect()
                else:
                    assert code == protocol.CLOSE_CONNECTING_TOO_FAST
            allowed = FLOOD_LIMITS["CONNECT_BURST"] + FLOOD_LIMITS["CONNECT_RATE"] * (
                time.monotonic() - started
            )
            assert served <= allowed + 1
            current = None
        elif kind == "logout":
            await sync_to_async(Session.objects.filter(session_key=cookie_key(cookie)).delete)()
            assert (await drain(current, quiet=2))[1] == protocol.CLOSE_UNAUTHENTICATED
            await current.disconnect()
            cookie, current = await sync_to_async(session_cookie)(flooder), None
        else:  # demote, then promote again for the next steps
            await sync_to_async(type(flooder).objects.filter(pk=flooder.pk).update)(is_staff=False)
            assert (await drain(current, quiet=2))[1] == protocol.CLOSE_FORBIDDEN
            await current.disconnect()
            await sync_to_async(type(flooder).objects.filter(pk=flooder.pk).update)(is_staff=True)
            current = None
    if current is not None:
        await current.disconnect()
    await bystander.send_json_to({"type": "ping"})
    assert await receive(bystander) == {"type": "pong"}  # another user is never hurt
    await bystander.disconnect()


def cookie_key(cookie: bytes) -> str:
    return cookie.decode().split("=", 1)[1]


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=flood_steps)
def test_floods_logouts_and_demotions_end_in_a_documented_close_and_never_hurt_others(
    other_user, in_memory_layer, settings, steps
):
    settings.PROGRESS = FLOOD_LIMITS
    async_to_sync(flood)(steps, other_user)
