"""Helpers for a project's tests of its tracked work: sockets as a user, waiting, flushing.

Needs daphne (channels.testing imports it): install django-progress-live[testing].
For example:

    from progress import testing

    async def test_the_import_reaches_the_browser(user):
        socket, accepted = await testing.connect(user=user)
        snapshot = await testing.receive_json(socket)
        ...
        testing.flush()  # the writer's and publisher's pending work is done
        done = testing.eventually(lambda: OperationProgress.objects.finished().first())
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from progress import protocol

__all__ = [
    "aeventually",
    "connect",
    "eventually",
    "flush",
    "receive_json",
    "receive_until",
    "session_cookie",
]

# The socket for every run the user may see, e.g. "/ws/progress/".
ALL_RUNS_PATH = "/" + protocol.WS_PATH
_HEARTBEAT = json.loads(protocol.HEARTBEAT_FRAME)


def session_cookie(user: Any) -> bytes:
    """A Cookie header value that logs user in (through the session backend)."""
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


async def connect(
    path: str = ALL_RUNS_PATH,
    *,
    user: Any = None,
    application: Any = None,
    origin: str = "http://localhost",
    host: str = "localhost",
    timeout: float = 5.0,
) -> tuple[WebsocketCommunicator, bool]:
    """Open a socket as a browser would (Origin, Host, session cookie); (socket, accepted).

    application defaults to progress.asgi.websocket_application() with the progress
    services; pass your project's ASGI application to go through its whole stack.
    """
    if application is None:
        from progress.asgi import websocket_application
        from progress.sockets.server import ServerServices

        application = ServerServices(websocket_application())
    headers = [(b"origin", origin.encode()), (b"host", host.encode())]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    accepted, _ = await communicator.connect(timeout=timeout)
    return communicator, accepted


async def receive_json(communicator: WebsocketCommunicator, timeout: float = 5.0) -> Any:
    """The next frame within timeout, decoded; {"type": "heartbeat"} frames are skipped."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no frame but heartbeats within {timeout}s")
        message = json.loads(await communicator.receive_from(left))
        if message != _HEARTBEAT:
            return message


async def receive_until(
    communicator: WebsocketCommunicator, predicate: Callable[[Any], Any], timeout: float = 10.0
) -> list[Any]:
    """Messages until one satisfies predicate (a batch frame counts as its events)."""
    seen: list[Any] = []
    deadline = time.monotonic() + timeout
    while True:
        frame = await receive_json(communicator, max(deadline - time.monotonic(), 0.01))
        for message in frame["events"] if frame.get("type") == "batch" else [frame]:
            seen.append(message)
            if predicate(message):
                return seen


def eventually[T](predicate: Callable[[], T], timeout: float = 5.0, step: float = 0.02) -> T:
    """predicate()'s first true value, polled every step seconds; AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"{predicate!r} was not true within {timeout} s")
        time.sleep(step)
    return value


async def aeventually[T](predicate: Callable[[], T], timeout: float = 5.0, step: float = 0.02) -> T:
    """See eventually(); waits without blocking the event loop (predicate must not block)."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"{predicate!r} was not true within {timeout} s")
        await asyncio.sleep(step)
    return value


def flush(timeout: float = 5.0) -> None:
    """Wait until this process's writer has written and its publisher sent everything."""
    from progress.publish.publisher import get_publisher
    from progress.runtime.writer import get_writer

    if not get_writer().drain(timeout):
        raise AssertionError(f"the progress writer still had work after {timeout} s")
    if not get_publisher().flush(timeout):
        raise AssertionError(f"the progress publisher still had sends after {timeout} s")
