"""Helpers to open WebSockets through the project's real ASGI stack (origin check, session auth)."""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from progressproject.asgi import application


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def open_socket(path: str, user=None, *, origin: str = "http://localhost"):
    """Connect like a browser would; returns (communicator, accepted)."""
    headers = [(b"origin", origin.encode()), (b"host", b"localhost")]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    accepted, _ = await communicator.connect(timeout=5)
    return communicator, accepted


async def receive(communicator, timeout: float = 5.0) -> dict:
    return json.loads(await communicator.receive_from(timeout))


async def receive_until(communicator, predicate, timeout: float = 10.0) -> list[dict]:
    """Collect messages until one satisfies predicate; returns all of them."""
    seen = []
    while True:
        message = await receive(communicator, timeout)
        seen.append(message)
        if predicate(message):
            return seen
