"""Who is on a WebSocket: the session's user, looked up in batches and remembered briefly.

Channels' AuthMiddleware loads the session and then the user in a worker thread for every
connect, one after another on the one thread database_sync_to_async uses. In a reconnect
storm that thread is the queue. Here the connects waiting at the same time are answered
by one thread hop with two queries (sessions, users), and a session's user is kept for
AUTH_CACHE_SECONDS: a logout in this process forgets it at once (user_logged_out); one
elsewhere is noticed within that time. The checks are Django's: the session must not be
expired, its backend must be configured, the user active and the session hash current.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.sessions import CookieMiddleware, InstanceSessionWrapper
from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
    user_logged_out,
)
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.dispatch import receiver
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.module_loading import import_string

from progress import conf

MAX_REMEMBERED = 10_000
MAX_BATCH = 500
MAX_SESSION_KEY = 40


class SessionUsers:
    """Resolves session keys to users: batched per thread hop, cached per process."""

    def __init__(self) -> None:
        self.hops = 0
        self._cache: dict[str, tuple[float, Any]] = {}
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._resolving = False

    async def user_for(self, session_key: str | None) -> Any:
        """The user of session_key, or AnonymousUser."""
        if not session_key or not _looks_like_session_key(session_key):
            return AnonymousUser()  # a forged cookie never reaches the batch query
        held = self._cache.get(session_key)
        if held is not None and held[0] > time.monotonic():
            return held[1]
        future = self._waiting.get(session_key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiting[session_key] = future
            if not self._resolving:
                self._resolving = True
                asyncio.get_running_loop().create_task(self._resolve_waiting())
        return await asyncio.shield(future)

    def forget(self, session_key: str | None) -> None:
        """Drop what is remembered about session_key (it was logged out)."""
        if session_key:
            self._cache.pop(session_key, None)

    async def _resolve_waiting(self) -> None:
        try:
            while self._waiting:
                # At most MAX_BATCH keys per query: SQLite caps bound parameters.
                keys = list(self._waiting)[:MAX_BATCH]
                batch = {key: self._waiting.pop(key) for key in keys}
                self.hops += 1
                try:
                    users = await database_sync_to_async(users_for_sessions)(list(batch))
                except Exception as exc:
                    for future in batch.values():
                        if not future.done():
                            future.set_exception(exc)
                    continue
                self._remember(users)
                for key, future in batch.items():
                    if not future.done():
                        future.set_result(users.get(key) or AnonymousUser())
        finally:
            self._resolving = False

    def _remember(self, users: dict[str, Any]) -> None:
        seconds = conf.get("AUTH_CACHE_SECONDS")
        if seconds <= 0:
            return
        now = time.monotonic()
        if len(self._cache) > MAX_REMEMBERED:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) > MAX_REMEMBERED:
                self._cache.clear()
        for key, user in users.items():
            self._cache[key] = (now + seconds, user)


session_users = SessionUsers()


def _looks_like_session_key(key: str) -> bool:
    """Django's session keys are 32 lowercase letters and digits; allow up to 40 of them."""
    return len(key) <= MAX_SESSION_KEY and key.isascii() and key.isalnum()


def users_for_sessions(session_keys: list[str]) -> dict[str, Any]:
    """{session key: user} for the keys of valid, logged-in sessions (two queries)."""
    sessions = _session_data(session_keys)
    wanted: dict[str, tuple[Any, str]] = {}
    for key, data in sessions.items():
        try:
            user_id = get_user_model()._meta.pk.to_python(data[SESSION_KEY])
            backend_path = data[BACKEND_SESSION_KEY]
        except (KeyError, ValueError):
            continue
        if backend_path in settings.AUTHENTICATION_BACKENDS:
            wanted[key] = (user_id, backend_path)
    users = _users(wanted.values())
    found = {}
    for key, (user_id, backend_path) in wanted.items():
        user = users.get((user_id, backend_path))
        if user is not None and _hash_matches(sessions[key], user):
            found[key] = user
    return found


def _session_data(session_keys: list[str]) -> dict[str, dict[str, Any]]:
    store_class = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    if not issubclass(store_class, DatabaseSessionStore):
        return {key: data for key in session_keys if (data := store_class(key).load())}
    model = store_class.get_model_class()
    rows = model.objects.filter(session_key__in=session_keys, expire_date__gt=timezone.now())
    store = store_class()
    return {
        key: store.decode(text) for key, text in rows.values_list("session_key", "session_data")
    }


def _users(wanted: Any) -> dict[tuple[Any, str], Any]:
    by_backend: dict[str, set[Any]] = {}
    for user_id, backend_path in wanted:
        by_backend.setdefault(backend_path, set()).add(user_id)
    users: dict[tuple[Any, str], Any] = {}
    for backend_path, ids in by_backend.items():
        pairs: list[tuple[Any, Any]]
        backend = load_backend(backend_path)
        if type(backend) is ModelBackend:
            found = get_user_model()._default_manager.filter(pk__in=ids)
            pairs = [(user.pk, user) for user in found if backend.user_can_authenticate(user)]
        else:
            pairs = [(user_id, backend.get_user(user_id)) for user_id in ids]
        users.update({(pk, backend_path): user for pk, user in pairs if user is not None})
    return users


def _hash_matches(session: dict[str, Any], user: Any) -> bool:
    if not hasattr(user, "get_session_auth_hash"):
        return True
    session_hash = session.get(HASH_SESSION_KEY)
    return isinstance(session_hash, str) and constant_time_compare(
        session_hash, user.get_session_auth_hash()
    )


class SessionUserMiddleware(BaseMiddleware):
    """Puts scope["user"] from the session cookie, through session_users."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        """Resolve the user, then call the inner application."""
        key = scope.get("cookies", {}).get(settings.SESSION_COOKIE_NAME)
        scope = dict(scope, user=await session_users.user_for(key))
        return await super().__call__(scope, receive, send)


class WebSocketSessionMiddleware:
    """scope["session"] as Channels' SessionMiddleware gives it, with the server's own send.

    Channels wraps send to save a changed session on HTTP responses. A WebSocket never gets
    one (Channels' consumers save scope["session"] themselves), yet the wrapper ran for
    every frame: about 5 % of a busy server's CPU (bench/, figure O).
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        """Put the lazy session in the scope; pass send on untouched."""
        wrapper = InstanceSessionWrapper(scope, send)
        await wrapper.resolve_session()
        return await self.inner(wrapper.scope, receive, send)


def SessionUserMiddlewareStack(inner: Any) -> Any:
    """Cookies, session and the batched, cached user lookup around inner."""
    return CookieMiddleware(WebSocketSessionMiddleware(SessionUserMiddleware(inner)))


@receiver(user_logged_out)
def _forget_logged_out_session(*, request: Any = None, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    session_users.forget(getattr(session, "session_key", None))
