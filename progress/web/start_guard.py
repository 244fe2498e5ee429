"""Refuse a pipeline start before its body is received: ASGI middleware for the HTTP app.

Django's ASGI handler receives the whole request body (spooling it to disk) before any view
runs, so a view can refuse a 120 MB upload only after taking all of it. This middleware
answers start requests from their headers alone: no Content-Length (411), a declared size
over the limit (413), or a user who may not start the pipeline (401/403). Anything it lets
through is checked again by the view, so it only ever refuses earlier, never admits more.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Awaitable, Callable
from importlib import import_module
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import authenticate, get_user
from django.core.exceptions import PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.http import QueryDict
from django.urls import Resolver404, resolve
from django.utils.datastructures import MultiValueDict

from progress import pipelines
from progress.launch import RequestTooLarge, pipeline_for_request

# URL names of the start views; the API answers JSON, the page plain text.
API_START = "pipeline-start"
PAGE_START = "progress:start"

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class StartRequestGuard:
    """Wraps the HTTP application; see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        route = _start_route(scope)
        if route is None:
            await self.app(scope, receive, send)
            return
        refusal = await sync_to_async(_refusal)(scope, *route)
        if refusal is None:
            await self.app(scope, receive, send)
        else:
            await _respond(send, *refusal, as_json=route[1] == API_START)


def _start_route(scope: dict[str, Any]) -> tuple[str, str] | None:
    """(pipeline name, route name) for a POST to a start view, else None."""
    if scope["type"] != "http" or scope.get("method") != "POST":
        return None
    try:
        match = resolve(scope["path"])
    except Resolver404:
        return None
    if match.view_name not in (API_START, PAGE_START):
        return None
    return str(match.kwargs.get("name", "")), match.view_name


def _refusal(scope: dict[str, Any], name: str, route: str) -> tuple[int, str] | None:
    """(status, message) when the headers alone say no; None to let the view decide."""
    request = ASGIRequest(scope, io.BytesIO())  # headers only: the body is never read here
    length = request.META.get("CONTENT_LENGTH")
    if not length:
        return 411, "Send the request with a Content-Length header (chunked uploads are refused)."
    user = _user(request, api=route == API_START)
    if user is None:
        return 401, "Those credentials are not valid; sign in again."
    if not user.is_authenticated:
        return 403, "Sign in first: starting a pipeline needs an account."
    try:
        pipeline_for_request(name=name, user=user, content_length=length)
    except PermissionDenied as exc:
        return 403, str(exc)
    except RequestTooLarge as exc:
        return 413, str(exc)
    except pipelines.UnknownPipeline:
        return None  # the view's 404 says which pipelines exist
    return None


def _user(request: ASGIRequest, *, api: bool) -> Any:
    """The user the request authenticates as (session, or HTTP Basic on the API); None when
    Basic credentials are given and wrong."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if api and header[:6].lower() == "basic ":
        return _basic_user(request, header[6:])
    engine = import_module(settings.SESSION_ENGINE)
    request.session = engine.SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    return get_user(request)


def _basic_user(request: ASGIRequest, encoded: str) -> Any:
    try:
        username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    # Login throttling (django-axes) reads the form on a failure: an empty one, never the body.
    request._post, request._files = QueryDict(), MultiValueDict()  # type: ignore[attr-defined]
    return authenticate(request=request, username=username, password=password)


async def _respond(send: Any, status: int, message: str, *, as_json: bool) -> None:
    if as_json:
        body, kind = json.dumps({"detail": message}).encode(), b"application/json"
    else:
        body, kind = f"Not started: {message}\n".encode(), b"text/plain; charset=utf-8"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    # The body is left unread; tell the client the connection will not take it.
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
