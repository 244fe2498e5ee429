"""WebSocket URL routes of the progress app."""

from django.urls import path

from progress.consumers import ProgressConsumer

# The socket's path, defined once: the client learns it from progress.jsconfig.
WS_PATH = "ws/progress/"

websocket_urlpatterns = [
    path(WS_PATH, ProgressConsumer.as_asgi()),
    path(f"{WS_PATH}<int:operation_id>/", ProgressConsumer.as_asgi()),
]
