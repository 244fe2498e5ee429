"""Issue 25: a socket's budget (frames charged as they arrive, resyncs by their answer),
sockets that follow their user's login, and the reconnect rate."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace

import pytest
from asgiref.sync import sync_to_async

from progress import protocol
from progress.sockets import inbound, snapshots
from progress.tests.factories import OperationProgressFactory
from progress.tests.wsutil import open_socket, receive, receive_list, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_memory_layer")]

RESYNC = json.dumps({"type": "resync", "since": {}})


@pytest.fixture
def slow_resyncs(monkeypatch):
    """Each resync's query takes 20 ms (as one naming 1,000 runs does); returns the calls."""
    calls = []
    newer_than = snapshots.newer_than

    def slow(*args, **kwargs):
        calls.append(time.monotonic())
        time.sleep(0.02)
        return newer_than(*args, **kwargs)

    monkeypatch.setattr(snapshots, "newer_than", slow)
    return calls


async def close_code(communicator, timeout: float = 10.0) -> int | None:
    """Read frames until the server closes; its close code (None: it never did)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            output = await communicator.receive_output(deadline - time.monotonic())
        except TimeoutError:
            return None
        if output["type"] == "websocket.close":
            return output["code"]
    return None


async def send_burst(communicator, text: str, count: int) -> None:
    for _ in range(count):
        await communicator.send_input({"type": "websocket.receive", "text": text})


async def test_a_burst_of_resyncs_is_closed_with_4008_as_it_arrives(user, slow_resyncs):
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    await send_burst(communicator, RESYNC, 200)
    assert await close_code(communicator, timeout=3) == protocol.CLOSE_RATE_LIMITED
    assert len(slow_resyncs) <= 2  # the one in flight, and the newest that waited behind it


async def test_resyncs_waiting_behind_one_are_answered_once(user, slow_resyncs, settings):
    settings.PROGRESS = {"CLIENT_BURST": 100}
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    await send_burst(communicator, RESYNC, 50)
    answers = 0
    while not await communicator.receive_nothing(timeout=0.5):
        assert (await receive(communicator))["type"] == "resync"
        answers += 1
    assert 1 <= answers == len(slow_resyncs) <= 2
    await communicator.disconnect()


async def test_a_disconnect_drops_the_sockets_waiting_frames(user, slow_resyncs, settings):
    settings.PROGRESS = {"CLIENT_BURST": 1000, "CLIENT_RATE": 1000.0}
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    await send_burst(communicator, RESYNC, 100)
    await send_burst(communicator, json.dumps({"type": "ping"}), 100)
    await communicator.send_input({"type": "websocket.disconnect", "code": 1001})
    await asyncio.sleep(1.5)
    assert len(slow_resyncs) <= 2
    await communicator.wait(timeout=2)


async def test_a_resync_costs_tokens_by_the_runs_it_returns(user, settings):
    settings.PROGRESS = {"CLIENT_RATE": 5.0, "CLIENT_BURST": 30, "RESYNC_RUNS_PER_TOKEN": 10}
    await sync_to_async(OperationProgressFactory.create_batch)(100, created_by=user)
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive_list(communicator, "snapshot")
    # Three frames a second, under the rate of 5; but each answer of 100 runs costs 10 more.
    answered = 0
    for _ in range(10):
        await communicator.send_to(text_data=RESYNC)
        output = await communicator.receive_output(5)
        if output["type"] == "websocket.close":
            assert output["code"] == protocol.CLOSE_RATE_LIMITED
            break
        assert json.loads(output["text"])["type"] == "resync"
        answered += 1
        await asyncio.sleep(0.3)
    else:
        pytest.fail("ten resyncs of 100 runs in three seconds were never refused")
    assert answered >= 2


async def test_an_error_of_the_servers_receive_reaches_the_consumer():
    from progress.sockets.inbound import Inbox

    async def broken_receive():
        raise OSError("the server's queue is gone")

    async def refuse(code):
        raise AssertionError("nothing to refuse")

    inbox = Inbox(broken_receive, refuse)
    with pytest.raises(OSError, match="queue is gone"):
        await asyncio.wait_for(inbox.get(), 2)
    await inbox.aclose()


async def test_pings_under_the_rate_are_answered(user, settings):
    settings.PROGRESS = {"CLIENT_RATE": 50.0, "CLIENT_BURST": 5}
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    for _ in range(20):
        await communicator.send_json_to({"type": "ping"})
        assert await receive(communicator) == {"type": "pong"}
        await asyncio.sleep(0.03)
    await communicator.disconnect()


# --- sockets follow their session (finding 5) ------------------------------------------


def session_key_of(communicator) -> str:
    cookie = dict(communicator.scope["headers"])[b"cookie"].decode()
    return cookie.split("=", 1)[1]


@pytest.fixture
def quick_recheck(settings):
    settings.PROGRESS = {"SOCKET_AUTH_RECHECK_SECONDS": 0.3}


@pytest.mark.usefixtures("quick_recheck")
async def test_a_socket_is_closed_with_4001_after_a_logout_elsewhere(user):
    from django.contrib.sessions.models import Session

    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    key = session_key_of(communicator)
    await sync_to_async(Session.objects.filter(session_key=key).delete)()
    assert await close_code(communicator, timeout=3) == protocol.CLOSE_UNAUTHENTICATED


@pytest.mark.usefixtures("quick_recheck")
async def test_a_socket_is_closed_with_4001_once_its_user_is_deactivated(user):
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    user.is_active = False
    await sync_to_async(user.save)(update_fields=["is_active"])
    assert await close_code(communicator, timeout=3) == protocol.CLOSE_UNAUTHENTICATED


@pytest.mark.usefixtures("quick_recheck")
async def test_a_staff_socket_is_closed_with_4003_once_its_user_is_demoted(staff, other_user):
    theirs = await sync_to_async(OperationProgressFactory)(created_by=other_user)
    dashboard, _ = await open_socket("/ws/progress/", staff)
    await receive(dashboard)
    run_page, _ = await open_socket(f"/ws/progress/{theirs.pk}/", staff)
    await receive(run_page)
    staff.is_staff = False
    await sync_to_async(staff.save)(update_fields=["is_staff"])
    assert await close_code(dashboard, timeout=3) == protocol.CLOSE_FORBIDDEN
    assert await close_code(run_page, timeout=3) == protocol.CLOSE_FORBIDDEN


@pytest.mark.usefixtures("quick_recheck")
async def test_a_demoted_users_socket_on_their_own_run_stays_open(staff):
    mine = await sync_to_async(OperationProgressFactory)(created_by=staff)
    run_page, _ = await open_socket(f"/ws/progress/{mine.pk}/", staff)
    await receive(run_page)
    staff.is_staff = False
    await sync_to_async(staff.save)(update_fields=["is_staff"])
    await asyncio.sleep(1)
    await run_page.send_json_to({"type": "ping"})
    assert await receive(run_page) == {"type": "pong"}
    await run_page.disconnect()


@pytest.mark.usefixtures("quick_recheck")
async def test_a_signed_in_users_socket_stays_open_across_rechecks(user):
    from progress.sockets.authwatch import auth_watch

    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    before = auth_watch().rechecks
    await asyncio.sleep(1)
    assert auth_watch().rechecks > before
    await communicator.send_json_to({"type": "ping"})
    assert await receive(communicator) == {"type": "pong"}
    await communicator.disconnect()


async def test_a_logout_in_this_process_closes_the_socket_at_once(user, settings):
    from django.contrib.auth import user_logged_out
    from django.test import RequestFactory

    settings.PROGRESS = {"SOCKET_AUTH_RECHECK_SECONDS": 60.0}
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    request = RequestFactory().get("/")
    request.session = type("Session", (), {"session_key": session_key_of(communicator)})()

    def log_out():
        user_logged_out.send(sender=type(user), request=request, user=user)

    await asyncio.to_thread(log_out)
    assert await close_code(communicator, timeout=1) == protocol.CLOSE_UNAUTHENTICATED


# --- the reconnect rate (finding 15) ---------------------------------------------------


@pytest.fixture
def fresh_throttle(monkeypatch):
    from progress.sockets import throttle

    monkeypatch.setattr(throttle.connect_throttle, "_buckets", {})


async def connect_code(
    path: str, cookie: bytes = b"", *, address: str = "127.0.0.1", forwarded: str = ""
) -> int | None:
    """Open a socket from address (with forwarded as its X-Forwarded-For); the close code,
    or None if it stayed open (then closed)."""
    from channels.testing import WebsocketCommunicator

    from progress.tests.wsutil import application

    async def from_address(scope, receive, send):
        return await application({**scope, "client": [address, 50000]}, receive, send)

    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    if cookie:
        headers.append((b"cookie", cookie))
    if forwarded:
        headers.append((b"x-forwarded-for", forwarded.encode()))
    communicator = WebsocketCommunicator(from_address, path, headers=headers)
    await communicator.connect()
    output = await communicator.receive_output(5)
    await communicator.disconnect()  # as a browser does after a close frame
    return output["code"] if output["type"] == "websocket.close" else None


@pytest.mark.usefixtures("fresh_throttle")
async def test_reconnecting_a_run_socket_too_fast_is_closed_with_4030_before_a_query(
    user, other_user, settings, monkeypatch
):
    # A token grows back in 100 s: a loaded machine's slow connects cannot earn one.
    settings.PROGRESS = {"CONNECT_RATE": 0.01, "CONNECT_BURST": 5}
    mine = await sync_to_async(OperationProgressFactory)(created_by=user)
    queries = []
    is_visible = snapshots.is_visible
    monkeypatch.setattr(snapshots, "is_visible", lambda *a: queries.append(a) or is_visible(*a))
    cookie = await sync_to_async(session_cookie)(user)
    codes = [await connect_code(f"/ws/progress/{mine.pk}/", cookie) for _ in range(12)]
    assert codes[:5] == [None] * 5
    assert codes[5:] == [protocol.CLOSE_CONNECTING_TOO_FAST] * 7
    assert len(queries) == codes.count(None)
    # Another user's connects are counted apart.
    other_cookie = await sync_to_async(session_cookie)(other_user)
    assert await connect_code("/ws/progress/", other_cookie) is None


@pytest.mark.usefixtures("fresh_throttle")
async def test_behind_a_trusted_proxy_anonymous_connects_are_limited_per_forwarded_client(
    settings,
):
    settings.PROGRESS = {"CONNECT_RATE": 0.01, "CONNECT_BURST": 3, "TRUSTED_PROXIES": ["10.0.0.5"]}
    # One client through the proxy, writing a new leftmost hop each time: one bucket.
    codes = [
        await connect_code(
            "/ws/progress/", address="10.0.0.5", forwarded=f"6.6.6.{n}, 198.51.100.7"
        )
        for n in range(6)
    ]
    assert codes == [protocol.CLOSE_UNAUTHENTICATED] * 3 + [protocol.CLOSE_CONNECTING_TOO_FAST] * 3
    # Another client behind the same proxy is counted apart.
    assert await connect_code("/ws/progress/", address="10.0.0.5", forwarded="198.51.100.8") == (
        protocol.CLOSE_UNAUTHENTICATED
    )


@pytest.mark.usefixtures("fresh_throttle")
async def test_a_forwarded_address_from_an_untrusted_peer_does_not_evade_the_limit(settings):
    settings.PROGRESS = {"CONNECT_RATE": 0.01, "CONNECT_BURST": 3, "TRUSTED_PROXIES": ["10.0.0.5"]}
    codes = [
        await connect_code("/ws/progress/", address="203.0.113.9", forwarded=f"198.51.100.{n}")
        for n in range(6)
    ]
    assert codes == [protocol.CLOSE_UNAUTHENTICATED] * 3 + [protocol.CLOSE_CONNECTING_TOO_FAST] * 3


@pytest.mark.usefixtures("fresh_throttle")
async def test_anonymous_connects_are_limited_per_address(settings):
    settings.PROGRESS = {"CONNECT_RATE": 0.01, "CONNECT_BURST": 3}
    codes = [await connect_code("/ws/progress/", address="10.0.0.1") for _ in range(6)]
    assert codes == [protocol.CLOSE_UNAUTHENTICATED] * 3 + [protocol.CLOSE_CONNECTING_TOO_FAST] * 3
    assert await connect_code("/ws/progress/", address="10.0.0.2") == (
        protocol.CLOSE_UNAUTHENTICATED
    )


@pytest.mark.usefixtures("fresh_throttle")
async def test_connects_are_allowed_again_as_the_bucket_refills(user, settings, monkeypatch):
    settings.PROGRESS = {"CONNECT_RATE": 2.0, "CONNECT_BURST": 2}
    # The buckets' clock stands still unless the test moves it: no refill while connecting.
    now = [1000.0]
    monkeypatch.setattr(inbound, "time", SimpleNamespace(monotonic=lambda: now[0]))
    cookie = await sync_to_async(session_cookie)(user)
    assert [await connect_code("/ws/progress/", cookie) for _ in range(3)][-1] == (
        protocol.CLOSE_CONNECTING_TOO_FAST
    )
    now[0] += 0.6  # a token (and a bit) grows back
    assert await connect_code("/ws/progress/", cookie) is None
