"""WebSocket URL routes of the progress app."""

from django.urls import path

from progress.consumers import ProgressConsumer

websocket_urlpatterns = [
    path("ws/progress/", ProgressConsumer.as_asgi()),
    path("ws/progress/<int:operation_id>/", ProgressConsumer.as_asgi()),
]
