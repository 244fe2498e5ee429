"""System checks for progress tracking configuration."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from progress import conf

IN_MEMORY_LAYER = "channels.layers.InMemoryChannelLayer"


@register()
def check_channel_layer_reaches_other_processes(**kwargs: Any) -> list[Warning]:
    """Warn when production (DEBUG off) uses the in-memory layer for PROGRESS["CHANNEL_LAYER"]."""
    alias = conf.get("CHANNEL_LAYER")
    backend = getattr(settings, "CHANNEL_LAYERS", {}).get(alias, {}).get("BACKEND")
    if settings.DEBUG or backend != IN_MEMORY_LAYER:
        return []
    return [
        Warning(
            f"CHANNEL_LAYERS[{alias!r}] is the in-memory layer, with DEBUG off.",
            hint=(
                "Workers and management commands cannot reach browsers through it directly "
                "(the server only relays their runs by polling the database every few "
                f"seconds). Set CHANNEL_LAYERS[{alias!r}] to a channels-redis layer, e.g. "
                '{"BACKEND": "progress.layers.BoundedRedisPubSubChannelLayer", '
                '"CONFIG": {"hosts": ["redis://host:6379/0"]}}.'
            ),
            id="progress.W001",
        )
    ]


@register()
def check_channel_layer_alias_exists(**kwargs: Any) -> list[Error]:
    """PROGRESS["CHANNEL_LAYER"] must name an entry of CHANNEL_LAYERS."""
    alias = conf.get("CHANNEL_LAYER")
    layers = getattr(settings, "CHANNEL_LAYERS", {})
    if alias in layers:
        return []
    return [
        Error(
            f"PROGRESS['CHANNEL_LAYER'] is {alias!r}, which is not a key of CHANNEL_LAYERS.",
            hint=(
                f"Add CHANNEL_LAYERS[{alias!r}] (e.g. "
                '{"BACKEND": "channels.layers.InMemoryChannelLayer"} for development), '
                f"or set PROGRESS['CHANNEL_LAYER'] to one of {sorted(layers) or 'your aliases'}."
            ),
            id="progress.E001",
        )
    ]


@register()
def check_storage_alias_exists(**kwargs: Any) -> list[Error]:
    """PROGRESS["STORAGE"] must name an entry of STORAGES."""
    alias = conf.get("STORAGE")
    if alias in settings.STORAGES:
        return []
    return [
        Error(
            f"PROGRESS['STORAGE'] is {alias!r}, which is not a key of STORAGES.",
            hint=f"Add STORAGES[{alias!r}], or set PROGRESS['STORAGE'] to one of "
            f"{sorted(settings.STORAGES)}.",
            id="progress.E002",
        )
    ]


# Apps whose templates the API's browsable pages render (DRF's pages, the filter form).
API_TEMPLATE_APPS = ("rest_framework", "django_filters")


@register()
def check_api_template_apps_are_installed(**kwargs: Any) -> list[Warning]:
    """The browsable API needs rest_framework's and django_filters' templates."""
    from django.apps import apps

    missing = [name for name in API_TEMPLATE_APPS if not apps.is_installed(name)]
    if not missing:
        return []
    return [
        Warning(
            f"INSTALLED_APPS lacks {', '.join(map(repr, missing))}: the progress API's "
            "browsable pages cannot find their templates (JSON clients are unaffected).",
            hint=f"Add {', '.join(map(repr, missing))} to INSTALLED_APPS.",
            id="progress.W002",
        )
    ]


@register()
def check_embedded_runs_bound(**kwargs: Any) -> list[Error]:
    """PROGRESS["EMBEDDED_MAX_CONCURRENT_RUNS"] must let at least one run start."""
    bound = conf.get("EMBEDDED_MAX_CONCURRENT_RUNS")
    if isinstance(bound, int) and not isinstance(bound, bool) and bound >= 1:
        return []
    return [
        Error(
            f"PROGRESS['EMBEDDED_MAX_CONCURRENT_RUNS'] is {bound!r}; no run could ever start.",
            hint="Set it to a whole number of runs, 1 or more (the default is 3).",
            id="progress.E003",
        )
    ]


@register()
def check_trusted_proxies(**kwargs: Any) -> list[Error]:
    """PROGRESS["TRUSTED_PROXIES"] must list addresses or networks."""
    from progress.client_address import trusted_networks

    try:
        trusted_networks()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="progress.E004")]
    return []
