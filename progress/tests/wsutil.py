"""Helpers to open WebSockets through the app's real ASGI stack (origin check, session auth)."""

from __future__ import annotations

import json
import time

from django.core.asgi import get_asgi_application

from progress import protocol, testing
from progress.asgi import progress_application

# What a project's asgi.py serves, built by the app itself: the tests need no project.
application = progress_application(get_asgi_application())

# The helpers host projects use (progress.testing), under the names this suite uses.
session_cookie = testing.session_cookie
receive = testing.receive_json  # heartbeat frames skipped, as clients do


async def open_socket(
    path: str, user=None, *, origin: str = "http://localhost", host: str = "localhost"
):
    """Connect like a browser would, through the whole stack; returns (communicator, accepted)."""
    return await testing.connect(path, user=user, application=application, origin=origin, host=host)


async def receive_until(communicator, predicate, timeout: float = 30.0) -> list[dict]:
    """progress.testing.receive_until (batch frames count as their events) with this suite's
    longer bound: within timeout seconds in all."""
    return await testing.receive_until(communicator, predicate, timeout)


async def receive_frames_until(communicator, predicate, timeout: float = 10.0) -> list[str]:
    """Collect raw text frames (heartbeats skipped) until one satisfies predicate."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        text = await communicator.receive_from(max(deadline - time.monotonic(), 0.01))
        if text == protocol.HEARTBEAT_FRAME:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no frame but heartbeats within {timeout}s")
            continue
        seen.append(text)
        if predicate(json.loads(text)):
            return seen


async def receive_list(
    communicator, kind: str, timeout: float = 10.0
) -> tuple[list[dict], list[str]]:
    """Every part of one snapshot or resync: (its runs, its raw frames)."""
    frames = await receive_frames_until(
        communicator,
        lambda m: m["type"] == kind and m.get("part", 1) == m.get("parts", 1),
        timeout,
    )
    parts = [json.loads(text) for text in frames]
    runs = [op for part in parts if part["type"] == kind for op in part["operations"]]
    return runs, frames
