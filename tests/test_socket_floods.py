"""Issue 25 against a real daphne: a client that asks for resyncs and never reads."""

from __future__ import annotations

import json
import os
import socket
import struct
import time

import pytest

from progress import protocol
from progress.tests.factories import OperationProgressFactory, UserFactory
from progress.tests.wsutil import session_cookie
from tests.live import LiveStack
from tests.test_reliability import raw_websocket_that_never_reads

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

RESYNC = json.dumps({"type": "resync", "since": {}})


def masked_text_frame(text: str) -> bytes:
    """One client-to-server text frame (clients must mask), under 64 KiB."""
    payload = text.encode()
    mask = os.urandom(4)
    if len(payload) <= 125:
        head = bytes([0x81, 0x80 | len(payload)])
    else:
        head = bytes([0x81, 0x80 | 126]) + struct.pack("!H", len(payload))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def stream_ends(sock: socket.socket, quiet: float) -> tuple[bool, bytes]:
    """Read until the server ends the connection (True) or sends nothing for quiet seconds."""
    sock.settimeout(quiet)
    data = bytearray()
    try:
        while chunk := sock.recv(1 << 20):
            data += chunk
    except ConnectionResetError:
        return True, bytes(data)
    except TimeoutError:
        return False, bytes(data)
    return True, bytes(data)


def test_a_client_that_asks_for_resyncs_and_never_reads_is_closed_with_4010():
    # A resync of 300 runs is about 450 KB; the bound is 256 KiB. Rate limits are lifted so
    # only the send buffer's bound can end the socket.
    stack = LiveStack(
        worker=False,
        PROGRESS_MAX_SEND_BUFFER_BYTES=str(256 * 1024),
        PROGRESS_CLIENT_BURST="100000",
        PROGRESS_CLIENT_RATE="100000",
        PROGRESS_RESYNC_RUNS_PER_TOKEN="100000",
    )
    try:
        user = UserFactory()
        OperationProgressFactory.create_batch(300, created_by=user)
        sock = raw_websocket_that_never_reads(stack.url, session_cookie(user))
        started = time.monotonic()
        ended_early = False
        try:
            for _ in range(60):
                sock.sendall(masked_text_frame(RESYNC))
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            ended_early = True
        ended, _data = stream_ends(sock, quiet=5.0)
        took = time.monotonic() - started
        sock.close()
        assert ended_early or ended, "daphne kept a socket that read nothing open"
        assert took < 20, f"the socket ended only after {took:.0f} s"
        # The close frame (4010) waited behind what the client never read; daphne dropped
        # the connection when the close handshake timed out.
        assert f"with {protocol.CLOSE_SLOW_CLIENT}: it holds more than" in stack.log_text("daphne")
    finally:
        stack.stop()
