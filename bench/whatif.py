"""What-if patches for experiments only (never used by the app): the suggested fixes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def cache_serializer_fields() -> Callable[[], None]:
    """operation_data() with the DRF serializer's fields built once, not on every call.

    Returns a function that puts the original back.
    """
    from progress import serializers
    from progress.runtime import writer
    from progress.sockets import relay, snapshots

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
    from progress.sockets.consumers import ProgressConsumer

    return "dispatch" in ProgressConsumer.__dict__


def twisted_write_through() -> None:
    """Twisted's TCP write tries the socket at once when nothing is buffered.

    Twisted buffers every write and sends it when the reactor reports the socket writable:
    per frame, the asyncio reactor registers a writer, the loop polls, the write runs and the
    writer is unregistered (about 20 % of daphne's CPU in figure O's profile). An asyncio
    transport sends at once and buffers only what the kernel did not take. This makes
    Twisted do the same, for plain TCP connections with nothing buffered and no TLS (what
    the kernel does not take is buffered as before, which also pauses a registered
    producer): what a cheaper transport would buy, not something the app does.
    """
    from twisted.internet import abstract, tcp

    buffered_write = abstract.FileDescriptor.write

    def write(self: Any, data: bytes) -> None:
        if (
            isinstance(self, tcp.Connection)
            and not getattr(self, "TLS", False)
            and self.connected
            and not self._writeDisconnected
            and not self.disconnecting
            and not self._tempDataBuffer
            and self.offset == len(self.dataBuffer)
            and data
        ):
            sent = self.writeSomeData(data)
            if isinstance(sent, int) and sent >= 0:
                if sent == len(data):
                    return
                data = data[sent:]
        buffered_write(self, data)

    abstract.FileDescriptor.write = write  # type: ignore[method-assign]
