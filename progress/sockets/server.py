"""Process-wide services of a serving process, started once when the server starts.

The publisher's attachment to the server loop (in-memory layer), the database relay
(in-memory layer) and the stall sweep run once per process, not once per connection. Servers
with the ASGI lifespan protocol (uvicorn, hypercorn) start them at start-up; daphne has no
lifespan, so they start with the first request or WebSocket the process serves, before it
is handled.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.layers import get_channel_layer

from progress import conf
from progress.publish.publisher import get_publisher
from progress.runtime.sweeps import ensure_sweeper
from progress.sockets.relay import ensure_relay

logger = logging.getLogger(__name__)

# The loop the services run in (one per serving process) and how often they were started.
_services_loop: asyncio.AbstractEventLoop | None = None
starts = 0


def start_services() -> bool:
    """Start the services in the running loop unless they run there already; True if started."""
    global _services_loop, starts
    loop = asyncio.get_running_loop()
    if _services_loop is loop and not loop.is_closed():
        return False
    _services_loop = loop
    starts += 1
    layer = get_channel_layer(conf.get("CHANNEL_LAYER"))
    get_publisher().attach_server_loop(loop)
    ensure_sweeper()
    if layer is not None:
        ensure_relay(layer)
    return True


def stop_services() -> None:
    """Stop what start_services() started in this loop (lifespan shutdown, tests)."""
    global _services_loop
    _services_loop = None


class ServerServices:
    """ASGI wrapper: starts the process's services once, then passes every scope on."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Answer lifespan events; start the services before the first other scope."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        start_services()
        await self.app(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                start_services()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                stop_services()
                await send({"type": "lifespan.shutdown.complete"})
                return
