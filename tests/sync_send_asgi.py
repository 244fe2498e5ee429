"""The project's ASGI application plus a sync sender and echo sockets, for the layer test.

Served by a real daphne in tests/test_layer_conformance.py. The echo consumers run in the
same daphne as the progress sockets; /sync-send/ runs plain sync code the way Django runs
a sync view (sync_to_async, in a worker thread), which addresses one consumer's channel or
a group with async_to_sync, as sync Django code does.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import async_to_sync, sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path

from progressproject.asgi import application as project_application  # sets Django up

ECHO_GROUP = "sync-send-echo"


class EchoConsumer(AsyncJsonWebsocketConsumer):
    """Tells the client its channel name, then forwards every sync.message it is sent."""

    groups = [ECHO_GROUP]

    async def connect(self) -> None:
        await self.accept()
        await self.send_json({"type": "hello", "channel": self.channel_name})

    async def sync_message(self, event: dict[str, Any]) -> None:
        await self.send_json(event)


def sync_send(target: str, *, group: bool, new_loop: bool) -> None:
    """What sync Django code does: send to one consumer's channel, or to a group."""
    layer = get_channel_layer()
    assert layer is not None
    message = {"type": "sync.message", "target": target, "group": group, "new_loop": new_loop}
    if group:
        async_to_sync(layer.group_send, force_new_loop=new_loop)(ECHO_GROUP, message)
    else:
        async_to_sync(layer.send, force_new_loop=new_loop)(target, message)


async def sync_send_view(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """GET /sync-send/?channel=<name>&group=0|1&new_loop=0|1 runs sync_send() in a thread."""
    query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
    await sync_to_async(sync_send)(
        query.get("channel", ""),
        group=query.get("group") == "1",
        new_loop=query.get("new_loop") == "1",
    )
    body = json.dumps({"sent": True}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def http(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["path"] == "/sync-send/":
        await sync_send_view(scope, receive, send)
    else:
        await project_application(scope, receive, send)


async def websocket(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["path"] == "/ws/echo/":
        await echo_router(scope, receive, send)
    else:
        await project_application(scope, receive, send)


echo_router = URLRouter([path("ws/echo/", EchoConsumer.as_asgi())])
application = ProtocolTypeRouter({"http": http, "websocket": websocket})
