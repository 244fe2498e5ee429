"""The demo's daphne (tuned by tune_daphne()) refuses oversized bodies from their headers.

Each test talks to the test's own daphne over a raw socket, so that what is sent is exactly
the headers and as much body as daphne takes. Without the tuning, daphne buffers a whole
body (into a temporary file past 100 kB) before any application code runs (issue 25,
finding 9).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from progress import conf
from progress.daphne_tuning import ANONYMOUS_BODY_BYTES, UPLOADS_AT_ONCE, largest_request_body
from progress.tests.waiting import eventually
from tests.live import LiveStack

pytestmark = [
    pytest.mark.service,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

START = "/api/v1/pipelines/gene_import/start/"
# daphne cannot tell a real session from a forged one; either gets the signed-in bound.
FORGED_SESSION = "sessionid=forged-by-the-client"
MIB = 1024 * 1024


@pytest.fixture
def stack() -> Iterator[LiveStack]:
    live = LiveStack(worker=False)
    try:
        yield live
    finally:
        live.stop()


def connect(stack: LiveStack) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", stack.port), timeout=4)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    return sock


def head(*, length: int | None = None, cookie: str | None = None, expect: bool = False) -> bytes:
    lines = [
        f"POST {START} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: multipart/form-data; boundary=xyz",
    ]
    lines.append("Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}")
    if cookie:
        lines.append(f"Cookie: {cookie}")
    if expect:
        lines.append("Expect: 100-continue")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(sock: socket.socket) -> bytes:
    """What daphne answered within the socket's timeout (b"" if it closed without a word)."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            part = sock.recv(4096)
            if not part:
                break
            data += part
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def everything(sock: socket.socket) -> bytes:
    """All daphne sends until it closes the connection (or the socket's timeout)."""
    data = b""
    try:
        while part := sock.recv(4096):
            data += part
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def largest_open_file(pid: int) -> int:
    """Bytes in the largest regular file the process holds open (temporary files included)."""
    largest = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            info = os.stat(fd)
        except OSError:
            continue  # closed meanwhile
        if info.st_mode & 0o170000 == 0o100000:
            largest = max(largest, info.st_size)
    return largest


def stream(stack: LiveStack, sock: socket.socket, total: int) -> tuple[int, int]:
    """Send total bytes of chunked body until daphne stops taking them; (sent, largest
    temporary file seen in daphne meanwhile)."""
    assert stack.daphne is not None
    chunk = b"x" * MIB
    sent = largest = 0
    try:
        while sent < total:
            sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            sent += len(chunk)
            largest = max(largest, largest_open_file(stack.daphne.pid))
    except OSError:
        pass  # refused: daphne closed the connection
    largest = max(largest, largest_open_file(stack.daphne.pid))
    return sent, largest


@pytest.mark.parametrize("cookie", [None, FORGED_SESSION], ids=["anonymous", "with-a-session"])
def test_a_120_mb_content_length_is_refused_with_413_before_any_body_is_sent(stack, cookie):
    with connect(stack) as sock:
        began = time.monotonic()
        sock.sendall(head(length=120_000_000, cookie=cookie))
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert time.monotonic() - began < 4


def test_a_refused_body_is_not_invited_with_100_continue(stack):
    with connect(stack) as sock:
        sock.sendall(head(length=120_000_000, cookie=FORGED_SESSION, expect=True))
        reply = everything(sock)
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert b"100 Continue" not in reply


def test_an_anonymous_200_mib_chunked_post_is_cut_off_and_never_reaches_the_disk(stack):
    with connect(stack) as sock:
        sock.sendall(head(cookie=None))
        sent, largest = stream(stack, sock, 200 * MIB)
    assert sent < 200 * MIB
    assert largest < ANONYMOUS_BODY_BYTES  # held in memory: no temporary file grew


def test_a_chunked_post_with_a_session_is_cut_off_at_the_largest_upload(stack):
    with connect(stack) as sock:
        sock.sendall(head(cookie=FORGED_SESSION))
        sent, largest = stream(stack, sock, 200 * MIB)
    assert sent < 200 * MIB
    assert largest <= largest_request_body()
    assert largest_request_body() == conf.get("MAX_UPLOAD_BYTES") + MIB


def test_a_body_within_the_bound_still_reaches_the_application(stack):
    # An anonymous start is refused by the application (403), not by daphne's bound.
    body = b'--xyz\r\nContent-Disposition: form-data; name="scope"\r\n\r\n1\r\n--xyz--\r\n'
    with connect(stack) as sock:
        sock.sendall(head(length=len(body)) + body)
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 403"), reply


def test_past_uploads_at_once_a_large_body_waits_for_a_slot_with_503(stack):
    # Clients that declare the largest bodies and send nothing hold the whole bound.
    holders = [connect(stack) for _ in range(UPLOADS_AT_ONCE)]
    try:
        for sock in holders:
            sock.sendall(head(length=largest_request_body(), cookie=FORGED_SESSION))
        with connect(stack) as sock:
            sock.sendall(head(length=2 * MIB, cookie=FORGED_SESSION))
            assert answer(sock).startswith(b"HTTP/1.1 503")
    finally:
        for sock in holders:
            sock.close()

    def a_slot_is_free() -> bool:
        with connect(stack) as sock:
            sock.settimeout(0.5)
            sock.sendall(head(length=2 * MIB, cookie=FORGED_SESSION))
            return not answer(sock).startswith(b"HTTP/1.1 503")

    eventually(a_slot_is_free, 10)
