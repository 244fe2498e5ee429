"""WebSocket URL routes of the progress app."""

from django.urls import path

from progress.sockets.consumers import ProgressConsumer, SeedProgressConsumer

__all__ = ["websocket_urlpatterns"]

# The socket's path, defined once: the client learns it from progress.web.jsconfig.
WS_PATH = "ws/progress/"
# The proposal's path, no trailing slash: its protocol, for clients written to it.
SEED_WS_PATH = "ws/progress"

websocket_urlpatterns = [
    path(SEED_WS_PATH, SeedProgressConsumer.as_asgi()),
    path(WS_PATH, ProgressConsumer.as_asgi()),
    path(f"{WS_PATH}<int:operation_id>/", ProgressConsumer.as_asgi()),
]
