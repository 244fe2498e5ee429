"""System checks for progress tracking configuration."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register

IN_MEMORY_LAYER = "channels.layers.InMemoryChannelLayer"


@register()
def check_channel_layer_reaches_other_processes(**kwargs: Any) -> list[Warning]:
    """Warn when production (DEBUG off) uses the in-memory layer."""
    layers = getattr(settings, "CHANNEL_LAYERS", {})
    backend = layers.get("default", {}).get("BACKEND")
    if settings.DEBUG or backend != IN_MEMORY_LAYER:
        return []
    return [
        Warning(
            "The in-memory channel layer is configured with DEBUG off.",
            hint=(
                "Workers and management commands cannot reach browsers through it directly "
                "(the server only relays their runs by polling the database every few "
                "seconds). Set REDIS_URL=redis://host:6379/0 to use channels-redis."
            ),
            id="progress.W001",
        )
    ]
