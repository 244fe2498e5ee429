"""What-if patches for experiments only (never used by the app): the suggested fixes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def cache_serializer_fields() -> Callable[[], None]:
    """operation_data() with the DRF serializer's fields built once, not on every call.

    Returns a function that puts the original back.
    """
    from progress import relay, serializers, snapshots, writer

    if serializer_fix_in_app():
        return lambda: None

    serializer = serializers.OperationProgressSerializer()
    serializer.fields  # noqa: B018  (build and cache the bound fields once)

    def operation_data(operation: Any) -> dict[str, Any]:
        return dict(serializer.to_representation(operation))

    modules = (serializers, snapshots, writer, relay)
    originals = [module.operation_data for module in modules]
    for module in modules:
        module.operation_data = operation_data

    def restore() -> None:
        for module, original in zip(modules, originals, strict=True):
            module.operation_data = original

    return restore


def serializer_fix_in_app() -> bool:
    """The app already builds the serializer's fields once (progress/serializers.py)."""
    from progress import serializers

    return hasattr(serializers, "_shared_serializer")


def dispatch_fix_in_app() -> bool:
    """ProgressConsumer already bypasses channels' per-message database hop."""
    from progress.consumers import ProgressConsumer

    return "dispatch" in ProgressConsumer.__dict__
