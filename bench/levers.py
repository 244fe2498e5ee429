"""Issue 12's levers undone one at a time, in bench daphne processes only (BENCH_WHATIF).

Each name puts back what the app did before that lever, so figure L measures what the
lever buys with everything else as it is now:

    channels-auth       Channels' AuthMiddlewareStack (session, then user, per connect)
    connect-hop         close_old_connections() in a worker thread before websocket.connect
                        (and every other non-event message), as Channels' dispatch() does
    subscribe-channel   a Redis SUBSCRIBE for every consumer's own channel
    autobahn-debug      autobahn's eager debug formatting (pformat, hltype/hlval, click colours)

Snapshot sharing (PROGRESS_SNAPSHOT_SHARE_SECONDS=0) and the listen backlog (daphne's -e
backlog) are switched by environment and command line, not here.
"""

from __future__ import annotations

import pprint
from typing import Any


def undo(names: set[str], application: Any) -> None:
    """Put back the behaviour before each named lever."""
    if "channels-auth" in names:
        from channels.auth import AuthMiddlewareStack
        from channels.routing import URLRouter

        from progress.routing import websocket_urlpatterns
        from progress.sockets.origins import OriginValidator

        router = application.app
        router.application_mapping["websocket"] = OriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        )
    if "connect-hop" in names:
        from channels.db import aclose_old_connections

        from progress.protocol import LAYER_EVENT
        from progress.sockets.consumers import ProgressConsumer

        dispatch = ProgressConsumer.dispatch

        async def dispatch_with_hop(self: Any, message: dict[str, Any]) -> None:
            if message["type"] != LAYER_EVENT:
                await aclose_old_connections()
            await dispatch(self, message)

        ProgressConsumer.dispatch = dispatch_with_hop  # type: ignore[method-assign]
    if "subscribe-channel" in names:
        from progress.layers import BoundedPubSubLoopLayer

        new_channel = BoundedPubSubLoopLayer.new_channel

        async def new_subscribed_channel(self: Any, prefix: str = "specific.") -> str:
            channel = await new_channel(self, prefix)
            await self._get_shard(channel).subscribe(channel)
            return channel

        BoundedPubSubLoopLayer.new_channel = new_subscribed_channel  # type: ignore[method-assign]
    if "autobahn-debug" in names:
        import autobahn.util
        import autobahn.websocket.protocol

        autobahn.websocket.protocol.pformat = pprint.pformat
        autobahn.websocket.protocol.hltype = autobahn.util.hltype
        autobahn.websocket.protocol.hlval = autobahn.util.hlval
        autobahn.util._HAS_CLICK = True
