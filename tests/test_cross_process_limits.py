"""Per-user limits across serving processes (issues 25 and 26): two real daphnes on one
Redis and one database, as behind a proxy that spreads a user's sockets and starts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal

import pytest
import requests
import websockets
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission

from curation.factories import ScopeFactory
from progress import protocol
from progress.tests.factories import UserFactory
from progress.tests.wsutil import session_cookie
from tests.live import LiveStack

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]
CAP = 3


async def open_list_socket(url: str, cookie: bytes):
    """A list page's socket on the server at url: (the socket, its first frame or close code)."""
    socket = await websockets.connect(
        url.replace("http", "ws") + "/ws/progress/",
        origin=url,
        additional_headers={"Cookie": cookie.decode()},
    )
    try:
        first = json.loads(await asyncio.wait_for(socket.recv(), 10))
    except websockets.ConnectionClosed as closed:
        return socket, closed.rcvd.code if closed.rcvd else None
    return socket, first["type"]


@pytest.fixture
async def two_servers(request):
    settings = getattr(request, "param", {"PROGRESS_MAX_SOCKETS_PER_USER": str(CAP)})
    stack = await asyncio.to_thread(LiveStack, worker=False, **settings)
    try:
        second, second_url = await asyncio.to_thread(stack.extra_daphne)
        try:
            yield stack.url, second_url
        finally:
            second.send_signal(signal.SIGINT)
            await asyncio.to_thread(second.wait, 10)
    finally:
        await asyncio.to_thread(stack.stop)


async def test_the_socket_cap_holds_across_two_servers(two_servers):
    first_url, second_url = two_servers
    user = await sync_to_async(UserFactory)()
    cookie = await sync_to_async(session_cookie)(user)
    sockets = []
    try:
        for url in (first_url, second_url, first_url):  # three places, on two servers
            socket, first = await open_list_socket(url, cookie)
            sockets.append(socket)
            assert first == "snapshot"
        for url in (second_url, first_url):  # the cap is the user's, not each server's
            socket, refused = await open_list_socket(url, cookie)
            sockets.append(socket)
            assert refused == protocol.CLOSE_TOO_MANY_SOCKETS

        await sockets[0].close()  # a tab on the first server closes: a place on the second
        for _attempt in range(50):  # the first server gives the place back as the socket ends
            socket, first = await open_list_socket(second_url, cookie)
            sockets.append(socket)
            if first == "snapshot":
                break
            await asyncio.sleep(0.2)
        assert first == "snapshot"
        # Another user is counted apart.
        other = await sync_to_async(UserFactory)()
        socket, first = await open_list_socket(
            second_url, await sync_to_async(session_cookie)(other)
        )
        sockets.append(socket)
        assert first == "snapshot"
    finally:
        for socket in sockets:
            with contextlib.suppress(Exception):
                await socket.close()


@pytest.mark.parametrize(
    "two_servers",
    [{"PROGRESS_CONNECT_RATE": "0.01", "PROGRESS_CONNECT_BURST": "4"}],
    indirect=True,
)
async def test_the_connect_rate_holds_across_two_servers(two_servers):
    first_url, second_url = two_servers
    user = await sync_to_async(UserFactory)()
    cookie = await sync_to_async(session_cookie)(user)
    # Four connects, two on each server: within the burst, and each server alone would
    # allow two more.
    for url in (first_url, second_url, first_url, second_url):
        socket, first = await open_list_socket(url, cookie)
        await socket.close()
        assert first == "snapshot"
    for url in (first_url, second_url):  # the user's bucket is shared: both refuse now
        socket, refused = await open_list_socket(url, cookie)
        await socket.close()
        assert refused == protocol.CLOSE_CONNECTING_TOO_FAST


@pytest.mark.parametrize("two_servers", [{"PROGRESS_MAX_STARTS_PER_MINUTE": "2"}], indirect=True)
async def test_the_start_rate_holds_across_two_servers(two_servers):
    first_url, second_url = two_servers

    def curator():
        user = UserFactory(username="rate-curator", password="rate-curator-pw-1")
        user.user_permissions.add(Permission.objects.get(codename="start_pipeline"))
        ScopeFactory(name="rate-scope", owner=user)

    def start(url):
        response = requests.post(
            url + "/api/v1/pipelines/gene_import/start/",
            files={"file": ("genes.csv", b"hgnc_id,symbol\nHGNC:5,A1BG\n")},
            data={"scope": "rate-scope"},
            auth=("rate-curator", "rate-curator-pw-1"),
            timeout=30,
        )
        return response.status_code, response.json()

    await sync_to_async(curator)()
    codes = [(await asyncio.to_thread(start, url))[0] for url in (first_url, second_url)]
    assert codes == [202, 202]
    # The third start, on either server, is past the user's two a minute.
    code, body = await asyncio.to_thread(start, first_url)
    assert code == 429 and "minute" in body["detail"]
