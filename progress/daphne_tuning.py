"""Fixes to daphne's Twisted and autobahn stack for a server with many sockets.

They change how libraries behave in the whole serving process, so the app never applies
them by itself: a project's ASGI module calls tune_daphne() (the demo project's does).
Two keep what the libraries do and only make it cheaper; the third bounds what a socket
whose client does not read may hold; the fourth bounds the request bodies daphne receives
before the application runs. Each finds out whether the library is as expected and
otherwise leaves it alone.
"""

from __future__ import annotations

import io
import logging
import pprint
import sys
from collections import OrderedDict
from typing import Any

__all__ = ["tune_daphne"]

logger = logging.getLogger(__name__)


def tune_daphne() -> list[str]:
    """Apply the fixes that apply in this process; the names of those applied."""
    applied = []
    if defer_autobahn_debug_formatting():
        applied.append("autobahn debug formatting deferred")
    if send_tcp_writes_at_once():
        applied.append("Twisted TCP writes sent at once")
    if frame_texts_once():
        applied.append("a text sent to many WebSockets framed once")
    if close_slow_clients():
        applied.append("WebSockets that do not read closed")
    if refuse_oversized_bodies():
        applied.append("request bodies bounded before they are buffered")
    return applied


class _Lazy:
    """function(*args) as text, computed only if a log line is really formatted."""

    __slots__ = ("args", "function")

    def __init__(self, function: Any, *args: Any) -> None:
        self.function = function
        self.args = args

    def __str__(self) -> str:
        return str(self.function(*self.args))

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _lazily(function: Any) -> Any:
    """function, deferred: it returns a _Lazy that calls function when formatted."""

    def deferred(*args: Any) -> _Lazy:
        return _Lazy(function, *args)

    deferred.lazy = True  # type: ignore[attr-defined]
    return deferred


def defer_autobahn_debug_formatting() -> bool:
    """Stop autobahn (under daphne) from formatting debug log text nobody logs.

    Every WebSocket handshake pretty-printed its whole configuration for a debug line
    (autobahn/websocket/protocol.py, _connectionMade) and coloured names with click for
    others: 15 % of daphne's CPU in a connect storm (py-spy, bench/ figure S). Every frame
    sent built a highlighted method name and two values for another debug line (hltype,
    hlval): 5-6 % of daphne's CPU in a fan-out (figure O). autobahn passes them only as
    arguments of log calls, so the text is the same when a line is logged; it is built
    only then. True if autobahn was found.
    """
    protocol = sys.modules.get("autobahn.websocket.protocol")
    util = sys.modules.get("autobahn.util")
    if protocol is None or util is None:
        return False
    protocol.pformat = _lazily(pprint.pformat)  # type: ignore[attr-defined]
    for name in ("hltype", "hlval"):
        current = getattr(protocol, name, None)
        if current is not None and not getattr(current, "lazy", False):
            setattr(protocol, name, _lazily(current))
    util._HAS_CLICK = False  # type: ignore[attr-defined]  # colours only
    return True


# The private parts of Twisted's FileDescriptor that send_tcp_writes_at_once() relies on:
# class attributes, and the list buffer its __init__ creates.
_TWISTED_CLASS_ATTRIBUTES = ("dataBuffer", "offset", "_writeDisconnected", "disconnecting")
_TWISTED_INIT_ATTRIBUTES = ("_tempDataBuffer",)


def send_tcp_writes_at_once() -> bool:
    """Twisted TCP writes go to the socket at once when nothing waits to be sent.

    Twisted buffers every write until its reactor reports the socket writable. Under
    daphne's asyncio reactor that is, for every WebSocket frame, a writer registered with
    the event loop (an epoll_ctl), a loop turn, the send, and the writer removed (another
    epoll_ctl): 20-35 % of daphne's CPU when it fans states out to 1,000 sockets, and a
    loop turn of delay per frame (bench/ figure O, run E: staleness p99 0.29-0.33 s
    without, 0.16-0.17 s with). asyncio's own transports send at once and buffer only what
    the kernel does not take; this makes Twisted's plain TCP connections do the same.

    Nothing changes when data is already buffered (order is kept), for TLS connections,
    or once the connection is closing; what the kernel does not take is buffered as before
    (which also pauses a registered producer). True if applied (Twisted as expected).
    """
    abstract = sys.modules.get("twisted.internet.abstract")
    tcp = sys.modules.get("twisted.internet.tcp")
    if abstract is None or tcp is None:
        return False
    descriptor = abstract.FileDescriptor
    if getattr(descriptor.write, "sends_at_once", False):
        return True
    if not (
        all(hasattr(descriptor, name) for name in _TWISTED_CLASS_ATTRIBUTES)
        and set(_TWISTED_INIT_ATTRIBUTES) <= set(descriptor.__init__.__code__.co_names)
        and hasattr(tcp.Connection, "writeSomeData")
    ):
        logger.warning("Twisted's FileDescriptor is not as expected; its writes stay buffered")
        return False
    buffered_write = descriptor.write
    connection = tcp.Connection

    def write(self: Any, data: bytes) -> None:
        if (
            data
            and isinstance(self, connection)
            and self.connected
            and not self.disconnecting
            and not self._writeDisconnected
            and not getattr(self, "TLS", False)
            and not self._tempDataBuffer
            and self.offset == len(self.dataBuffer)
        ):
            sent = self.writeSomeData(data)
            if isinstance(sent, int) and sent > 0:
                if sent == len(data):
                    return
                data = data[sent:]
        buffered_write(self, data)

    write.sends_at_once = True  # type: ignore[attr-defined]
    write.buffered_write = buffered_write  # type: ignore[attr-defined]  # Twisted's own
    write.__doc__ = buffered_write.__doc__
    descriptor.write = write
    return True


def buffered_bytes(transport: Any) -> int:
    """Bytes a Twisted transport holds that its socket has not taken yet (0 if unknown)."""
    try:
        held = len(transport.dataBuffer) - transport.offset + transport._tempDataLen
    except (AttributeError, TypeError):
        return 0
    return held if isinstance(held, int) else 0


# What close_slow_clients() relies on of daphne's (and autobahn's) WebSocketProtocol.
_DAPHNE_ATTRIBUTES = ("serverSend", "sendClose", "STATE_OPEN")


def close_slow_clients() -> bool:
    """Close a WebSocket with 4010 once more than MAX_SEND_BUFFER_BYTES wait to be sent.

    daphne writes every frame the application sends into Twisted's buffer, without a
    bound: a client that stops reading (or reads slowly) while it asks for resyncs made a
    server grow by hundreds of MB it never gave back (issue 25, finding 1). Past the bound
    the frame is dropped and a close frame queued; autobahn drops the connection when the
    client does not answer it within its close handshake timeout, which frees the buffer,
    and the application gets websocket.disconnect. True if daphne was found.
    """
    ws_protocol = sys.modules.get("daphne.ws_protocol")
    if ws_protocol is None:
        return False
    server_protocol = ws_protocol.WebSocketProtocol
    if getattr(server_protocol.serverSend, "bounded", False):
        return True
    if not all(hasattr(server_protocol, name) for name in _DAPHNE_ATTRIBUTES):
        logger.warning("daphne's WebSocketProtocol is not as expected; send buffers are unbounded")
        return False
    from progress import conf
    from progress.protocol import CLOSE_SLOW_CLIENT

    unbounded_send = server_protocol.serverSend

    def serverSend(self: Any, content: Any, binary: bool = False) -> None:
        if buffered_bytes(getattr(self, "transport", None)) > conf.get("MAX_SEND_BUFFER_BYTES"):
            if self.state == self.STATE_OPEN:
                logger.warning(
                    "Closed the WebSocket of %s with %s: it holds more than "
                    "MAX_SEND_BUFFER_BYTES unsent; the client is not reading.",
                    getattr(self, "client_addr", None),
                    CLOSE_SLOW_CLIENT,
                )
                self.sendClose(code=CLOSE_SLOW_CLIENT)
            return
        unbounded_send(self, content, binary)

    serverSend.bounded = True  # type: ignore[attr-defined]
    serverSend.unbounded_send = unbounded_send  # type: ignore[attr-defined]
    serverSend.__doc__ = unbounded_send.__doc__
    server_protocol.serverSend = serverSend
    return True


# Texts framed most recently, by identity: a flush sends one shared text to many sockets in
# a row (progress.sockets.fanout), so a few entries cover it. Holding the text keeps its id.
FRAME_CACHE_SIZE = 16
_framed: OrderedDict[int, tuple[str, bytes]] = OrderedDict()
# The bench's what-if switch (bench/bench_asgi.py): False frames every send as autobahn does.
FRAME_TEXTS_ONCE = True


def text_frame(text: str) -> bytes:
    """A server's unmasked, unfragmented text frame (RFC 6455 5.2), built once per text."""
    entry = _framed.get(id(text))
    if entry is not None and entry[0] is text:
        return entry[1]
    payload = text.encode("utf-8")
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 1 << 16:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    frame = header + payload
    _framed[id(text)] = (text, frame)
    if len(_framed) > FRAME_CACHE_SIZE:
        _framed.popitem(last=False)
    return frame


def frame_texts_once() -> bool:
    """Write a text frame's bytes to the socket directly when autobahn would send it as one
    plain frame, built once for every socket that gets the same text.

    Why (issue 26): daphne's serverSend encodes the text for each socket, and autobahn's
    sendMessage and sendFrame check, count and frame it again each time; per delivered frame
    that Python was about a quarter of daphne's CPU in the fan-out (py-spy, run E). A
    server's frames are unmasked, so the bytes are the same for every client. Anything else
    (binary, compression, fragmenting, masking, timing or octet logging, a queued send, a
    socket not open) goes the usual way. True if daphne was found.
    """
    ws_protocol = sys.modules.get("daphne.ws_protocol")
    if ws_protocol is None:
        return False
    server_protocol = ws_protocol.WebSocketProtocol
    send = getattr(server_protocol, "serverSend", None)
    # Applied already, perhaps under close_slow_clients()'s wrapper.
    if getattr(send, "frames_once", False) or getattr(
        getattr(send, "unbounded_send", None), "frames_once", False
    ):
        return True
    if not hasattr(server_protocol, "serverSend"):
        logger.warning("daphne's WebSocketProtocol has no serverSend; frames are built per socket")
        return False
    framed_by_autobahn = server_protocol.serverSend

    def serverSend(self: Any, content: Any, binary: bool = False) -> None:
        if binary or not FRAME_TEXTS_ONCE or not _sends_plain_frames(self, content):
            framed_by_autobahn(self, content, binary)
            return
        frame = text_frame(content)
        self.trafficStats.outgoingWebSocketMessages += 1
        self.trafficStats.outgoingOctetsWireLevel += len(frame)
        self.transport.write(frame)

    serverSend.__doc__ = framed_by_autobahn.__doc__
    serverSend.frames_once = True  # type: ignore[attr-defined]
    server_protocol.serverSend = serverSend
    return True


def _sends_plain_frames(protocol: Any, text: str) -> bool:
    """Whether autobahn would send text on this socket now as one plain, unmasked frame."""
    try:
        # autobahn refuses a payload over maxMessagePayloadSize (daphne sets 1 MiB); a
        # character is at most 4 bytes, so a text a quarter of that fits without encoding.
        limit = protocol.maxMessagePayloadSize
        return (
            protocol.state == protocol.STATE_OPEN
            and protocol._perMessageCompress is None
            and not protocol.send_queue
            and not protocol.trackedTimings
            and not protocol.logOctets
            and not protocol.logFrames
            and not protocol.maskServerFrames
            and not protocol.autoFragmentSize
            and (not limit or 4 * len(text) <= limit)
            and protocol.trafficStats is not None
        )
    except AttributeError:  # another autobahn: let it frame
        return False


# Room a pipeline start's form takes beside its file: other fields, multipart boundaries.
FORM_OVERHEAD_BYTES = 1024 * 1024
# Largest body of a request that carries neither a session cookie nor an Authorization
# header: a login form, not an upload. Under Twisted's 100,000-byte threshold, so such a
# body is held in memory and never written to a temporary file.
ANONYMOUS_BODY_BYTES = 64 * 1024
# Bodies past Twisted's in-memory threshold that one process receives at once, in bytes
# declared (a chunked body counts as the largest): room for UPLOADS_AT_ONCE of the largest
# uploads. This bounds daphne's temporary files: UPLOADS_AT_ONCE x (MAX_UPLOAD_BYTES + 1 MiB).
UPLOADS_AT_ONCE = 8
# Twisted keeps a body shorter than this in memory (twisted.web.http._getContentFile).
_IN_MEMORY_BELOW = 100_000
# What refuse_oversized_bodies() relies on of daphne's WebRequest (a twisted.web Request).
_WEB_REQUEST_ATTRIBUTES = ("gotLength", "handleContentChunk", "process", "finish", "connectionLost")


def largest_request_body() -> int:
    """The largest body a signed-in request may send: an upload of MAX_UPLOAD_BYTES, plus
    its form."""
    from progress import conf

    return int(conf.get("MAX_UPLOAD_BYTES")) + FORM_OVERHEAD_BYTES


class _Spooled:
    """Bytes of large bodies reserved by the requests of this process (the reactor's thread)."""

    reserved = 0


def refuse_oversized_bodies() -> bool:
    """Refuse a request body daphne would buffer past its bound, before buffering it.

    daphne receives a whole request body, into a temporary file past 100 kB, before the
    application (and so any Django check) runs: a 200 MiB anonymous POST grew that file to
    204 MB, and a 120 MB Content-Length went unanswered (issue 25, finding 9). Here the
    headers decide: a request with a session cookie or an Authorization header may send
    largest_request_body(), any other ANONYMOUS_BODY_BYTES (held in memory); a declared
    length past that is answered 413 at once, and a chunked body is cut off (413) when it
    passes it. Bodies past 100 kB received at once share room for UPLOADS_AT_ONCE of the
    largest (503 past that), so the temporary files stay bounded even for clients that
    forge a cookie or open many connections. The
    connection is closed after a refusal; the application never sees the request. True if
    daphne was found.
    """
    http_protocol = sys.modules.get("daphne.http_protocol")
    if http_protocol is None:
        return False
    request_class = http_protocol.WebRequest
    if getattr(request_class.gotLength, "bounded", False):
        return True
    if not all(hasattr(request_class, name) for name in _WEB_REQUEST_ATTRIBUTES):
        logger.warning("daphne's WebRequest is not as expected; request bodies are unbounded")
        return False
    unbounded = {name: getattr(request_class, name) for name in _WEB_REQUEST_ATTRIBUTES}

    def gotLength(self: Any, length: int | None) -> None:
        self.body_cap = _body_cap(self)
        self.body_received = 0
        self.body_reserved = 0
        if length is not None and length > self.body_cap:
            _refuse(self, 413, _too_large(self.body_cap))
            return
        size = self.body_cap if length is None else length
        if size >= _IN_MEMORY_BELOW:
            if _Spooled.reserved + size > UPLOADS_AT_ONCE * largest_request_body():
                _refuse(self, 503, _busy())
                return
            self.body_reserved = size
            _Spooled.reserved += size
        # A chunked body under the in-memory threshold stays in memory too.
        unbounded["gotLength"](self, length if size >= _IN_MEMORY_BELOW else size)

    def handleContentChunk(self: Any, data: bytes) -> None:
        if getattr(self, "body_refused", False):
            return
        self.body_received = getattr(self, "body_received", 0) + len(data)
        if self.body_received > getattr(self, "body_cap", self.body_received):
            _refuse(self, 413, _too_large(self.body_cap))
            return
        unbounded["handleContentChunk"](self, data)

    def process(self: Any) -> Any:
        if getattr(self, "body_refused", False):
            return None
        return unbounded["process"](self)

    def finish(self: Any) -> Any:
        _release(self)
        return unbounded["finish"](self)

    def connectionLost(self: Any, reason: Any) -> Any:
        _release(self)
        return unbounded["connectionLost"](self, reason)

    replacements = {
        "gotLength": gotLength,
        "handleContentChunk": handleContentChunk,
        "process": process,
        "finish": finish,
        "connectionLost": connectionLost,
    }
    for name, replacement in replacements.items():
        replacement.__doc__ = unbounded[name].__doc__
        replacement.unbounded = unbounded[name]  # type: ignore[attr-defined]
        setattr(request_class, name, replacement)
    gotLength.bounded = True  # type: ignore[attr-defined]
    return True


def _body_cap(request: Any) -> int:
    """How many body bytes this request may send, from its headers."""
    from django.conf import settings

    headers = request.requestHeaders
    cookie = settings.SESSION_COOKIE_NAME.encode()
    if headers.hasHeader(b"authorization") or cookie in request.received_cookies:
        return largest_request_body()
    return ANONYMOUS_BODY_BYTES


def _too_large(cap: int) -> str:
    if cap == ANONYMOUS_BODY_BYTES:
        return (
            f"This request's body is over {cap} bytes; sign in first "
            "(uploads need a session or HTTP Basic credentials)."
        )
    return (
        f"This request's body is over {cap} bytes: uploads are limited to "
        f'{cap - FORM_OVERHEAD_BYTES} bytes (PROGRESS["MAX_UPLOAD_BYTES"]). '
        "Split the file into smaller ones."
    )


def _busy() -> str:
    return "The server is receiving as many uploads as it takes at once; try again in a minute."


def _refuse(request: Any, status: int, message: str) -> None:
    """Answer status with message and close the connection; the rest of the body is dropped."""
    request.body_refused = True
    # Twisted answers "Expect: 100-continue" right after gotLength(): not after a refusal.
    request.requestHeaders.removeHeader(b"expect")
    _release(request)
    request.content = io.BytesIO()  # what Twisted and daphne expect to find; never read
    logger.warning(
        "Refused a %s-byte request body (%s) from %s: %s",
        request.requestHeaders.getRawHeaders(b"content-length", [b"chunked"])[0].decode("latin-1"),
        status,
        request.getClientAddress(),
        message,
    )
    channel = request.channel
    if channel is None or channel.transport is None:
        return
    body = (message + "\n").encode()
    reason = {413: b"Content Too Large", 503: b"Service Unavailable"}[status]
    channel.transport.write(
        b"HTTP/1.1 %d %s\r\n" % (status, reason)
        + b"Content-Type: text/plain; charset=utf-8\r\n"
        + b"Content-Length: %d\r\n" % len(body)
        + b"Connection: close\r\n\r\n"
        + body
    )
    channel.loseConnection()


def _release(request: Any) -> None:
    """Give back the request's share of UPLOADS_AT_ONCE (once)."""
    reserved = getattr(request, "body_reserved", 0)
    if reserved:
        _Spooled.reserved -= reserved
        request.body_reserved = 0
