"""WebSocket URL routes of the progress app."""

from django.urls import path

from progress.protocol import SEED_WS_PATH, WS_PATH
from progress.sockets.consumers import ProgressConsumer, SeedProgressConsumer

__all__ = ["websocket_urlpatterns"]

websocket_urlpatterns = [
    path(SEED_WS_PATH, SeedProgressConsumer.as_asgi()),
    path(WS_PATH, ProgressConsumer.as_asgi()),
    path(f"{WS_PATH}<int:operation_id>/", ProgressConsumer.as_asgi()),
]
