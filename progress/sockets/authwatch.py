"""Open sockets follow their session: a logout, deactivation or demotion closes them.

A socket is authenticated once, when it connects. Without a re-check it kept receiving
its user's runs after a logout, and a demoted staff user kept everyone's (issue 25,
finding 5). Every SOCKET_AUTH_RECHECK_SECONDS one task per event loop looks up the
sessions of all its open sockets again, in one thread hop with two queries
(wsauth.users_for_sessions, never its cache): a session that no longer logs anyone in
(logged out, expired, user deactivated, password changed) closes its sockets with 4001;
a user who no longer sees every run closes with 4003 the sockets showing runs they may not
see now. A logout in this process (user_logged_out) closes its session's sockets at once;
the interval is what holds across processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any, Protocol

from channels.db import database_sync_to_async
from django.contrib.auth import user_logged_out
from django.dispatch import receiver

from progress import conf, protocol
from progress.publish import visibility
from progress.sockets import snapshots
from progress.sockets.wsauth import MAX_BATCH, session_users, users_for_sessions

logger = logging.getLogger(__name__)


class Watched(Protocol):
    """What the watch needs of a socket's consumer."""

    user: Any
    operation_id: int | None

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None: ...


class AuthWatch:
    """One event loop's authenticated sockets, by session key, and their re-check."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.sockets: dict[str, dict[Watched, None]] = {}
        self.rechecks = 0
        self._task: asyncio.Task[None] | None = None

    def add(self, session_key: str, socket: Watched) -> None:
        """Follow socket's session from now on."""
        self.sockets.setdefault(session_key, {})[socket] = None
        if self._task is None or self._task.done():
            self._task = self.loop.create_task(self._run())

    def remove(self, session_key: str, socket: Watched) -> None:
        """Stop following socket (it closed); idempotent."""
        held = self.sockets.get(session_key)
        if held is not None:
            held.pop(socket, None)
            if not held:
                del self.sockets[session_key]

    def logged_out(self, session_key: str) -> None:
        """The session was logged out in this process: close its sockets with 4001 now."""
        for socket in list(self.sockets.pop(session_key, {})):
            self.loop.create_task(_close(socket, protocol.CLOSE_UNAUTHENTICATED))

    async def recheck(self) -> None:
        """Look every session up again; close the sockets whose user lost them."""
        self.rechecks += 1
        keys = list(self.sockets)
        users: dict[str, Any] = {}
        for start in range(0, len(keys), MAX_BATCH):
            users.update(await database_sync_to_async(users_for_sessions)(keys[start:][:MAX_BATCH]))
        for key in keys:
            user = users.get(key)
            if user is None:
                session_users.forget(key)  # a reconnect in this process is refused too
            for socket in list(self.sockets.get(key, {})):
                if user is None:
                    self.remove(key, socket)
                    await _close(socket, protocol.CLOSE_UNAUTHENTICATED)
                elif await _sees_less(socket, user):
                    self.remove(key, socket)
                    await _close(socket, protocol.CLOSE_FORBIDDEN)
                else:
                    socket.user = user

    async def _run(self) -> None:
        while self.sockets:
            await asyncio.sleep(conf.get("SOCKET_AUTH_RECHECK_SECONDS"))
            try:
                await self.recheck()
            except Exception:  # the database is down: try again next time
                logger.warning("Could not re-check the sockets' sessions", exc_info=True)


async def _sees_less(socket: Watched, user: Any) -> bool:
    """True if user (socket's user, looked up again) may no longer see what socket shows."""
    if not visibility.sees_all(socket.user) or visibility.sees_all(user):
        return False
    if socket.operation_id is None:
        return True
    return not await database_sync_to_async(snapshots.is_visible)(user, socket.operation_id)


async def _close(socket: Watched, code: int) -> None:
    with contextlib.suppress(Exception):  # the socket is already gone
        await socket.close(code=code)


_watches: dict[asyncio.AbstractEventLoop, AuthWatch] = {}
_lock = threading.Lock()


def auth_watch() -> AuthWatch:
    """The running loop's AuthWatch."""
    loop = asyncio.get_running_loop()
    with _lock:
        watch = _watches.get(loop)
        if watch is None:
            for closed in [other for other in _watches if other.is_closed()]:
                del _watches[closed]
            watch = _watches[loop] = AuthWatch(loop)
    return watch


@receiver(user_logged_out)
def _close_logged_out_sockets(*, request: Any = None, **kwargs: Any) -> None:
    key = getattr(getattr(request, "session", None), "session_key", None)
    if not key:
        return
    with _lock:
        watches = list(_watches.values())
    for watch in watches:
        if key in watch.sockets and not watch.loop.is_closed():
            watch.loop.call_soon_threadsafe(watch.logged_out, key)
