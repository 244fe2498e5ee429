"""progress/daphne_tuning.py: Twisted writes sent at once, autobahn's lazy debug text."""

from __future__ import annotations

import pprint
import socket

import autobahn.util
import autobahn.websocket.protocol
import daphne.http_protocol
import daphne.ws_protocol
import pytest
from twisted.internet import abstract, protocol, tcp

from progress import daphne_tuning


class FakeReactor:
    """Records which descriptors asked to be told when their socket is writable."""

    def __init__(self) -> None:
        self.writers: list[object] = []

    def addWriter(self, writer: object) -> None:  # Twisted's name
        self.writers.append(writer)

    def removeWriter(self, writer: object) -> None:
        self.writers.remove(writer)


@pytest.fixture
def tuned(monkeypatch):
    """Twisted's write as the tuning leaves it; put back after the test."""
    monkeypatch.setattr(abstract.FileDescriptor, "write", abstract.FileDescriptor.write)
    assert daphne_tuning.send_tcp_writes_at_once()
    yield


@pytest.fixture
def connection():
    ours, theirs = socket.socketpair()
    reactor = FakeReactor()
    conn = tcp.Connection(ours, protocol.Protocol(), reactor=reactor)
    conn.connected = True
    yield conn, theirs, reactor
    ours.close()
    theirs.close()


def received(sock: socket.socket, size: int) -> bytes:
    sock.settimeout(2)
    data = b""
    while len(data) < size:
        data += sock.recv(size - len(data))
    return data


def test_a_write_with_nothing_buffered_reaches_the_socket_at_once(tuned, connection):
    conn, theirs, reactor = connection
    conn.write(b"frame one")
    assert received(theirs, 9) == b"frame one"
    assert reactor.writers == []  # no writer registered, no loop turn needed


def test_without_the_tuning_twisted_waits_for_the_reactor(monkeypatch, connection):
    conn, theirs, reactor = connection
    write = abstract.FileDescriptor.write
    monkeypatch.setattr(abstract.FileDescriptor, "write", getattr(write, "buffered_write", write))
    conn.write(b"frame one")
    assert reactor.writers == [conn]
    theirs.setblocking(False)
    with pytest.raises(BlockingIOError):
        theirs.recv(10)


def test_a_write_behind_buffered_data_is_buffered_in_order(tuned, connection):
    conn, theirs, reactor = connection
    conn._tempDataBuffer.append(b"first ")
    conn._tempDataLen += 6
    conn.write(b"second")
    assert reactor.writers == [conn]
    conn.doWrite()
    assert received(theirs, 12) == b"first second"


def test_what_the_kernel_does_not_take_is_buffered_and_sent_later(tuned, connection):
    conn, theirs, reactor = connection
    payload = bytes(range(256)) * 40_000  # 10 MB: more than any socket buffer
    conn.write(payload)
    assert reactor.writers == [conn]
    assert conn._tempDataLen < len(payload)  # part went out at once
    data = b""
    theirs.settimeout(2)
    while len(data) < len(payload):
        conn.doWrite()
        data += theirs.recv(1 << 20)
    assert data == payload


def test_a_closing_connection_is_left_to_twisted(tuned, connection):
    conn, _, reactor = connection
    conn.disconnecting = True
    conn.write(b"late")
    assert reactor.writers == [conn]


def test_tuning_twice_patches_once_and_every_fix_applies(tuned, monkeypatch):
    patched = abstract.FileDescriptor.write
    for name in ("pformat", "hltype", "hlval"):
        monkeypatch.setattr(
            autobahn.websocket.protocol, name, getattr(autobahn.websocket.protocol, name)
        )
    monkeypatch.setattr(autobahn.util, "_HAS_CLICK", autobahn.util._HAS_CLICK)
    server_protocol = daphne.ws_protocol.WebSocketProtocol
    monkeypatch.setattr(server_protocol, "serverSend", server_protocol.serverSend)
    web_request = daphne.http_protocol.WebRequest
    for name in daphne_tuning._WEB_REQUEST_ATTRIBUTES:
        monkeypatch.setattr(web_request, name, getattr(web_request, name))
    assert daphne_tuning.tune_daphne() == [
        "autobahn debug formatting deferred",
        "Twisted TCP writes sent at once",
        "a text sent to many WebSockets framed once",
        "WebSockets that do not read closed",
        "request bodies bounded before they are buffered",
    ]
    bounded, sending = web_request.gotLength, server_protocol.serverSend
    daphne_tuning.tune_daphne()
    assert web_request.gotLength is bounded  # tuned twice, wrapped once
    assert server_protocol.serverSend is sending
    assert abstract.FileDescriptor.write is patched
    protocol = autobahn.websocket.protocol
    assert protocol.hltype.lazy and protocol.hlval.lazy and protocol.pformat.lazy
    # Tuned twice, deferred once: the deferred text calls autobahn's own function.
    assert protocol.hltype(len).function is autobahn.util.hltype


def test_autobahns_debug_text_is_built_only_when_formatted_and_reads_the_same(monkeypatch):
    protocol = autobahn.websocket.protocol
    # autobahn's own functions, whether or not this process was tuned already.
    monkeypatch.setattr(protocol, "pformat", pprint.pformat)
    monkeypatch.setattr(protocol, "hltype", autobahn.util.hltype)
    monkeypatch.setattr(protocol, "hlval", autobahn.util.hlval)
    monkeypatch.setattr(autobahn.util, "_HAS_CLICK", False)
    eager = protocol.hltype(test_tuning_twice_patches_once_and_every_fix_applies)
    calls = []
    monkeypatch.setattr(autobahn.util, "_qn", lambda obj: calls.append(obj) or "a.b")
    assert daphne_tuning.defer_autobahn_debug_formatting()
    deferred = protocol.hltype(len)
    assert calls == []  # nothing built yet
    assert f"{deferred}" == "<a.b>" and calls == [len]
    assert f"{protocol.hlval(5)}" == str(autobahn.util.hlval(5))
    assert eager.startswith("<") and "test_daphne_tuning" in eager


def test_an_unexpected_twisted_is_left_alone(monkeypatch, caplog):
    write = abstract.FileDescriptor.write
    monkeypatch.setattr(abstract.FileDescriptor, "write", getattr(write, "buffered_write", write))
    monkeypatch.setattr(daphne_tuning, "_TWISTED_INIT_ATTRIBUTES", ("_noSuchBuffer",))
    original = abstract.FileDescriptor.write
    assert not daphne_tuning.send_tcp_writes_at_once()
    assert abstract.FileDescriptor.write is original
    assert "writes stay buffered" in caplog.text


def test_buffered_bytes_counts_what_the_socket_has_not_taken(connection):
    conn, _theirs, _reactor = connection
    assert daphne_tuning.buffered_bytes(conn) == 0
    for _ in range(200):  # the peer never reads: the kernel's buffers fill, Twisted's grows
        conn.write(b"x" * 65536)
    assert daphne_tuning.buffered_bytes(conn) > 1_000_000
    assert daphne_tuning.buffered_bytes(object()) == 0


class FakeServerProtocol:
    """daphne's WebSocketProtocol as close_slow_clients() sees it."""

    STATE_OPEN = 1

    def __init__(self, held: int) -> None:
        self.state = self.STATE_OPEN
        self.transport = type("T", (), {"dataBuffer": b"x" * held, "offset": 0, "_tempDataLen": 0})
        self.sent: list[object] = []
        self.closed: list[int] = []

    def serverSend(self, content: object, binary: bool = False) -> None:
        self.sent.append(content)

    def sendClose(self, code: int) -> None:
        self.closed.append(code)
        self.state = 2


def test_a_socket_holding_more_than_the_bound_is_closed_with_4010(monkeypatch, settings):
    from progress.protocol import CLOSE_SLOW_CLIENT

    settings.PROGRESS = {"MAX_SEND_BUFFER_BYTES": 1000}
    fake_module = type("M", (), {"WebSocketProtocol": FakeServerProtocol})
    monkeypatch.setitem(daphne_tuning.sys.modules, "daphne.ws_protocol", fake_module)
    monkeypatch.setattr(FakeServerProtocol, "serverSend", FakeServerProtocol.serverSend)
    assert daphne_tuning.close_slow_clients()
    reading, stuck = FakeServerProtocol(held=1000), FakeServerProtocol(held=1001)
    for _ in range(3):
        reading.serverSend("frame")
        stuck.serverSend("frame")
    assert (reading.sent, reading.closed) == (["frame"] * 3, [])
    assert (stuck.sent, stuck.closed) == ([], [CLOSE_SLOW_CLIENT])  # closed once, frames dropped


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_a_text_frame_is_what_a_websocket_client_reads_back(size):
    from websockets.frames import Frame, Opcode
    from websockets.streams import StreamReader

    text = "é" * (size // 2) + "x" * (size % 2)
    reader = StreamReader()
    reader.feed_data(daphne_tuning.text_frame(text))
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        frame = done.value
    assert (frame.opcode, frame.fin, frame.data.decode()) == (Opcode.TEXT, True, text)


class PlainSocket:
    """What frame_texts_once reads of an open autobahn server socket, with a transport."""

    STATE_OPEN = 1

    def __init__(self, **options) -> None:
        self.state = self.STATE_OPEN
        self._perMessageCompress = options.get("compress")
        self.send_queue: list = []
        self.trackedTimings = None
        self.logOctets = self.logFrames = self.maskServerFrames = False
        self.autoFragmentSize = 0
        self.maxMessagePayloadSize = options.get("max_payload", 1024 * 1024)  # daphne's
        self.trafficStats = type(
            "Stats", (), {"outgoingWebSocketMessages": 0, "outgoingOctetsWireLevel": 0}
        )()
        self.written: list[bytes] = []
        self.by_autobahn: list[str] = []
        self.transport = type("T", (), {"write": lambda _, data: self.written.append(data)})()

    def serverSend(self, content, binary=False) -> None:  # daphne's, through autobahn
        self.by_autobahn.append(content)


def test_a_text_sent_to_many_sockets_is_framed_once_and_others_go_through_autobahn(monkeypatch):
    fake_module = type("M", (), {"WebSocketProtocol": PlainSocket})
    monkeypatch.setitem(daphne_tuning.sys.modules, "daphne.ws_protocol", fake_module)
    monkeypatch.setattr(PlainSocket, "serverSend", PlainSocket.serverSend)
    assert daphne_tuning.frame_texts_once()
    assert daphne_tuning.frame_texts_once()  # idempotent
    text = '{"type":"progress_update","data":{"id":1}}'
    sockets = [PlainSocket() for _ in range(3)]
    for sock in sockets:
        sock.serverSend(text)
    frames = [sock.written[0] for sock in sockets]
    assert frames[0] == daphne_tuning.text_frame(text)
    assert frames[1] is frames[0] and frames[2] is frames[0]  # built once
    assert sockets[0].trafficStats.outgoingWebSocketMessages == 1
    compressed, closing, tiny = (
        PlainSocket(compress=object()),
        PlainSocket(),
        PlainSocket(max_payload=8),
    )
    closing.state = 2
    for sock in (compressed, closing, tiny):
        sock.serverSend(text)
        assert (sock.written, sock.by_autobahn) == ([], [text])
