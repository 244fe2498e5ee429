"""Many WebSocket clients in one asyncio process (run by suite.py, not by hand).

    python bench/wsclient.py --url ws://127.0.0.1:PORT/ws/progress/ --origin http://127.0.0.1:PORT
                             --session KEY --n 500 --concurrency 200

Driven by one command per stdin line; each answer is one stdout line `REPLY <json>`:

    connect            open n connections (at most `concurrency` at once); each waits for its
                       snapshot. Answers ok/failed counts and the time until all held one.
    reset              start a measurement window (counters to zero)
    report PATH        end the window; latencies (seconds, float64) are written to PATH
    finals IDS TIMEOUT wait until every connection got task_completed for every id (JSON list)
                       live; the ones still missing ask `resync` and are counted separately
    stale RUNS SECONDS sample staleness for SECONDS: every 50 ms, for up to 100 connections,
                       now minus the send time of the newest state held of each run in RUNS
                       (a JSON list); answers p50/p99/max and the samples' count, and the
                       same of the newest state any connection of the process holds
                       ("upstream": what was late for all, not for one connection)
    restarts           after the server went away: when every connection held a new snapshot
    close              close every connection and exit

With --reconnect, a connection that drops reconnects on static/progress/client.js's
schedule (full jitter: uniform in [0, min(20 s, 0.5 s * 2**attempt)), at most 2 s in the
first 10 s of the outage, attempt from 0, reset by a snapshot) and records when its new
snapshot arrived.

Receiving is deliberately cheap so that the client is not the bottleneck: each connection
is an asyncio Protocol driving websockets' Sans-I/O ClientProtocol (no task, queue or
future per frame; the stock asyncio client cost about 40 µs per frame, which on this
2-core machine was CPU taken from the server under test). Frames are handled as bytes in
data_received (no UTF-8 decode), counted, and the send time is read from the
`"current_operation":"t=<seconds>"` substring; only final and resync frames are parsed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from array import array

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.typing import Origin
from websockets.uri import parse_uri

PROGRESS_PREFIX = b'{"type":"progress_update"'
STAMP = b'"current_operation":"t='
BATCH_PREFIX = b'{"type":"batch"'
RUN_ID = b'"data":{"id":'
MAX_ATTEMPTS = 8
BACKOFF_BASE = 0.5
BACKOFF_MAX = 20.0
# static/progress/state.js: retries at most 2 s apart in the first 10 s of an outage.
BACKOFF_GRACE = 10.0
BACKOFF_GRACE_MAX = 2.0


def backoff_ceiling(attempt: int, outage: float) -> float:
    """static/progress/state.js backoffCeiling()."""
    ceiling = min(BACKOFF_MAX, BACKOFF_BASE * 2**attempt)
    return min(ceiling, BACKOFF_GRACE_MAX) if outage < BACKOFF_GRACE else ceiling


class State:
    def __init__(self) -> None:
        self.active = False
        self.msgs = 0
        self.bytes = 0
        self.latencies = array("d")
        self.closed_unexpectedly = 0
        self.retries = 0
        self.errors: list[str] = []
        self.reconnect = False
        self.resnapshots: list[float] = []
        self.reconnect_failures = 0
        # Per run, the newest send time any connection of this process holds: staleness
        # against it is what came late to the whole process (producer, Redis, server loop),
        # not to one connection.
        self.freshest: dict[int, float] = {}


def stamps(data: bytes):
    """(run id, send time) of each state in a frame; find() is 5x cheaper than a regex."""
    at = data.find(RUN_ID)
    while at >= 0:
        start = at + len(RUN_ID)
        end = data.index(b",", start)
        after = data.find(RUN_ID, end)
        stamp = data.find(STAMP, end, after if after >= 0 else len(data))
        if stamp >= 0:
            stamp += len(STAMP)
            yield int(data[start:end]), float(data[stamp : data.index(b'"', stamp)])
        at = after


class Connection(asyncio.Protocol):
    """One WebSocket: websockets' Sans-I/O protocol on an asyncio transport."""

    def __init__(self, url: str, origin: str, cookie: str, on_frame) -> None:
        self.ws = ClientProtocol(parse_uri(url), origin=Origin(origin), max_size=None)
        self.cookie = cookie
        self.on_frame = on_frame
        loop = asyncio.get_running_loop()
        self.first: asyncio.Future[bytes] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self._parts: list[bytes] = []

    def connection_made(self, transport) -> None:
        self.transport = transport
        request = self.ws.connect()
        request.headers["Cookie"] = self.cookie
        self.ws.send_request(request)
        self._write()

    def data_received(self, data: bytes) -> None:
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Response):
                if self.ws.handshake_exc is not None and not self.first.done():
                    self.first.set_exception(self.ws.handshake_exc)
            elif isinstance(event, Frame):
                self._frame(event)
        self._write()

    def _frame(self, frame: Frame) -> None:
        if frame.opcode not in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            return
        if not frame.fin or self._parts:
            self._parts.append(frame.data)
            if not frame.fin:
                return
            data, self._parts = b"".join(self._parts), []
        else:
            data = frame.data
        if not self.first.done():
            self.first.set_result(data)
        else:
            self.on_frame(data)

    def _write(self) -> None:
        for chunk in self.ws.data_to_send():
            if chunk:
                self.transport.write(chunk)
            elif self.transport.can_write_eof():
                self.transport.write_eof()

    def connection_lost(self, exc) -> None:
        if not self.first.done():
            self.first.set_exception(exc or ConnectionError("closed before the first frame"))
        if not self.closed.done():
            self.closed.set_result(None)

    def send_text(self, text: str) -> None:
        self.ws.send_text(text.encode())
        self._write()

    async def close(self, timeout: float) -> None:
        """Close handshake, then the TCP connection (aborted after timeout)."""
        if self.closed.done():
            return
        with contextlib.suppress(Exception):
            self.ws.send_close()
            self._write()
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        except TimeoutError:
            self.transport.abort()


async def open_ws(url: str, origin: str, cookie: str, on_frame, timeout: float):
    """A connected Connection and its first frame (the snapshot)."""
    uri = parse_uri(url)
    loop = asyncio.get_running_loop()
    _, conn = await asyncio.wait_for(
        loop.create_connection(
            lambda: Connection(url, origin, cookie, on_frame), uri.host, uri.port
        ),
        timeout,
    )
    try:
        first = await asyncio.wait_for(asyncio.shield(conn.first), timeout)
    except BaseException:
        conn.transport.abort()
        raise
    return conn, first


class Client:
    def __init__(self, state: State) -> None:
        self.state = state
        self.ws: Connection | None = None
        self.finals: set[int] = set()
        self.resync_finals: set[int] = set()
        self.resynced = asyncio.Event()
        self.snapshot_at = 0.0
        self.open = False
        self.held: dict[int, float] = {}

    async def _open(self, url: str, origin: str, cookie: str) -> bytes:
        self.ws, first = await open_ws(url, origin, cookie, self.on_frame, 60)
        return first

    async def run(self, url: str, origin: str, cookie: str, sem: asyncio.Semaphore, ready) -> None:
        """Connect and wait for the snapshot; on failure retry like static/progress/client.js
        (full-jitter backoff from 0.5 s doubling to 20 s), at most MAX_ATTEMPTS times."""
        error: Exception | None = None
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                self.state.retries += 1
                await asyncio.sleep(random.uniform(0, min(20.0, 0.5 * 2 ** (attempt - 1))))
            try:
                async with sem:
                    first = await self._open(url, origin, cookie)
                    if not first.startswith(b'{"type":"snapshot"'):
                        raise RuntimeError(f"first frame was not a snapshot: {first[:80]!r}")
                    self.snapshot_at = time.time()
                    self.open = True
                    break
            except Exception as exc:
                error = exc
                self.state.errors.append(f"{type(exc).__name__}: {exc}"[:160])
                await self._drop()
        if not self.open:
            ready(self, error)
            return
        ready(self, None)
        await self.until_closed()
        while self.state.reconnect:
            await self.reconnect(url, origin, cookie)
            await self.until_closed()

    async def _drop(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close(2)
            self.ws = None

    async def reconnect(self, url: str, origin: str, cookie: str) -> None:
        """Reconnect until a snapshot arrives, on client.js's backoff schedule."""
        attempt, dropped = 0, time.monotonic()
        while True:
            outage = time.monotonic() - dropped
            await asyncio.sleep(random.random() * backoff_ceiling(attempt, outage))
            attempt += 1
            try:
                first = await self._open(url, origin, cookie)
                if first.startswith(b'{"type":"snapshot"'):
                    self.state.resnapshots.append(time.time())
                    self.open = True
                    return
            except Exception:
                pass
            self.state.reconnect_failures += 1
            await self._drop()

    async def until_closed(self) -> None:
        """Frames are handled by on_frame as they arrive; this waits for the end."""
        try:
            await self.ws.closed
        finally:
            if self.open:
                self.state.closed_unexpectedly += 1
            self.open = False

    def on_frame(self, data: bytes) -> None:
        state = self.state
        now = time.time()
        if state.active:
            state.msgs += 1
            state.bytes += len(data)
        if data.startswith(PROGRESS_PREFIX) or data.startswith(BATCH_PREFIX):
            freshest = state.freshest
            for run_id, sent in stamps(data):
                self.held[run_id] = sent
                if sent > freshest.get(run_id, 0.0):
                    freshest[run_id] = sent
                if state.active:
                    state.latencies.append(now - sent)
            if data.startswith(BATCH_PREFIX) and b'{"type":"task_' in data:
                for event in json.loads(data)["events"]:
                    if event["type"] == "task_completed":
                        self.finals.add(event["data"]["id"])
        elif data.startswith(b'{"type":"task_'):
            message = json.loads(data)
            if message["type"] == "task_completed":
                self.finals.add(message["data"]["id"])
        elif data.startswith(b'{"type":"resync"'):
            for op in json.loads(data)["operations"]:
                if op["status"] == "completed":
                    self.resync_finals.add(op["id"])
            self.resynced.set()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--origin", required=True)
    parser.add_argument("--session", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--sessions-file", help="one session key a line, used round robin")
    parser.add_argument("--reconnect", action="store_true")
    parser.add_argument("--offset", type=int, default=0, help="first session used")
    args = parser.parse_args()
    sessions = [args.session]
    if args.sessions_file:
        with open(args.sessions_file) as handle:
            sessions = handle.read().split()
    cookie = f"sessionid={args.session}"
    state = State()
    state.reconnect = args.reconnect
    clients: list[Client] = []
    tasks: list[asyncio.Task] = []

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def reply(payload: dict) -> None:
        sys.stdout.write("REPLY " + json.dumps(payload) + "\n")
        sys.stdout.flush()

    while True:
        line = (await reader.readline()).decode().strip()
        if not line:
            break
        command, *rest = line.split(" ", 2)
        if command == "connect":
            sem = asyncio.Semaphore(args.concurrency)
            done = asyncio.Event()
            results = {"ok": 0, "failed": 0}
            state.retries = 0
            state.errors = []
            start = time.time()

            def ready(client: Client, exc: Exception | None, results=results, done=done) -> None:
                if exc is None:
                    results["ok"] += 1
                else:
                    results["failed"] += 1
                if results["ok"] + results["failed"] >= args.n:
                    done.set()

            for _ in range(args.n):
                client = Client(state)
                clients.append(client)
                cookie = f"sessionid={sessions[(len(clients) - 1 + args.offset) % len(sessions)]}"
                tasks.append(
                    asyncio.create_task(client.run(args.url, args.origin, cookie, sem, ready))
                )
            timed_out = False
            try:
                await asyncio.wait_for(done.wait(), 180)
            except TimeoutError:
                timed_out = True
            snapshots = [c.snapshot_at for c in clients if c.snapshot_at]
            kinds: dict[str, int] = {}
            for error in state.errors:
                kinds[error[:60]] = kinds.get(error[:60], 0) + 1
            reply(
                {
                    **results,
                    "timed_out": timed_out,
                    "retries": state.retries,
                    "errors": kinds,
                    "start": start,
                    "last_snapshot_at": max(snapshots) if snapshots else None,
                    "snapshot_times": [s - start for s in snapshots],
                }
            )
        elif command == "reset":
            state.msgs = state.bytes = 0
            state.latencies = array("d")
            state.active = True
            reply({"t": time.time()})
        elif command == "report":
            state.active = False
            with open(rest[0], "wb") as handle:
                state.latencies.tofile(handle)
            reply(
                {
                    "t": time.time(),
                    "msgs": state.msgs,
                    "bytes": state.bytes,
                    "n_lat": len(state.latencies),
                    "open": sum(c.open for c in clients),
                    "closed_unexpectedly": state.closed_unexpectedly,
                }
            )
        elif command == "finals":
            ids = set(json.loads(rest[0]))
            deadline = time.monotonic() + float(rest[1])
            live_clients = [c for c in clients if c.ws is not None]
            while time.monotonic() < deadline:
                if all(ids <= c.finals for c in live_clients):
                    break
                await asyncio.sleep(0.05)
            waited = float(rest[1]) - (deadline - time.monotonic())
            live = [c for c in live_clients if ids <= c.finals]
            need = [c for c in live_clients if not ids <= c.finals]
            for c in need:
                since = {str(i): 0 for i in ids - c.finals}
                with contextlib.suppress(Exception):
                    c.ws.send_text(json.dumps({"type": "resync", "since": since}))
            if need:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.gather(*(c.resynced.wait() for c in need)), 30)
            via_resync = [c for c in need if ids <= (c.finals | c.resync_finals)]
            reply(
                {
                    "clients": len(live_clients),
                    "live": len(live),
                    "resync": len(via_resync),
                    "missing": len(need) - len(via_resync),
                    "waited": waited,
                }
            )
        elif command == "stale":
            ids = json.loads(rest[0])
            until = time.monotonic() + float(rest[1].split()[0])
            samples, upstream = array("d"), array("d")
            while time.monotonic() < until:
                await asyncio.sleep(0.05)
                now = time.time()
                for run_id in ids:
                    if run_id in state.freshest:
                        upstream.append(now - state.freshest[run_id])
                for c in random.sample(clients, min(100, len(clients))):
                    for run_id in ids:
                        sent = c.held.get(run_id)
                        if sent is not None:
                            samples.append(now - sent)

            def pct(values: array, q: float) -> float | None:
                ordered = sorted(values)
                return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None

            reply(
                {
                    "n": len(samples),
                    "p50": pct(samples, 0.5),
                    "p99": pct(samples, 0.99),
                    "max": pct(samples, 1.0),
                    "upstream_p50": pct(upstream, 0.5),
                    "upstream_p99": pct(upstream, 0.99),
                    "upstream_max": pct(upstream, 1.0),
                }
            )
        elif command == "restarts":
            deadline = time.monotonic() + float(rest[0])
            while time.monotonic() < deadline and len(state.resnapshots) < len(clients):
                await asyncio.sleep(0.05)
            reply(
                {
                    "back": len(state.resnapshots),
                    "last": max(state.resnapshots) if state.resnapshots else None,
                    "times": state.resnapshots,
                    "failures": state.reconnect_failures,
                }
            )
        elif command == "close":
            state.reconnect = False
            for c in clients:
                c.open = False

            async def close(c: Client) -> None:
                if c.ws is not None:
                    with contextlib.suppress(Exception):
                        await c.ws.close(5)

            closing = asyncio.Semaphore(200)

            async def bounded(c: Client, closing: asyncio.Semaphore = closing) -> None:
                async with closing:
                    await close(c)

            await asyncio.gather(*(bounded(c) for c in clients))
            for task in tasks:
                task.cancel()
            reply({"closed": len(clients)})
            break


if __name__ == "__main__":
    asyncio.run(main())
