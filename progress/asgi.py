"""The app's ASGI application, for a project's asgi.py and for tests.

    # yourproject/asgi.py
    from django.core.asgi import get_asgi_application

    django_asgi_app = get_asgi_application()  # first: it sets Django up

    from progress.asgi import progress_application

    application = progress_application(django_asgi_app)

A project with WebSocket routes of its own passes websocket=..., e.g. its URLRouter over
progress.routing.websocket_urlpatterns plus its own, wrapped like websocket_application().
"""

from __future__ import annotations

from typing import Any

from channels.routing import ProtocolTypeRouter, URLRouter

from progress.routing import websocket_urlpatterns
from progress.sockets.origins import OriginValidator
from progress.sockets.server import ServerServices
from progress.sockets.wsauth import SessionUserMiddlewareStack
from progress.web.start_guard import StartRequestGuard

__all__ = ["progress_application", "websocket_application"]


def websocket_application(routes: list[Any] | None = None) -> Any:
    """The progress sockets (or routes) behind the Origin check and session login."""
    return OriginValidator(SessionUserMiddlewareStack(URLRouter(routes or websocket_urlpatterns)))


def progress_application(http: Any, *, websocket: Any = None) -> Any:
    """HTTP (with the upload guard) and WebSocket, plus the process's progress services.

    The services (publisher, relay, stall sweep) start once: at lifespan start-up, or with
    the first scope under servers without lifespan (daphne).
    """
    return ServerServices(
        ProtocolTypeRouter(
            {
                "http": StartRequestGuard(http),
                "websocket": websocket or websocket_application(),
            }
        )
    )
