"""Hostile uploads through the real stack: never a 5xx, never a dead staff socket, small frames.

Hypothesis generates gene files (JSON, CSV, TSV, binary, wrong encodings, huge values, deep
nesting, odd Unicode digits, formula cells, long names). Each is posted to a real daphne by
a non-staff curator over HTTP Basic while a staff dashboard socket stays open; a db_worker
runs what was accepted. Afterwards every run has finished and the staff socket is still open,
has received frames, and never one over 64 KiB. The curator imports into a scope of their
own, and the genes a shared (staff's) scope lists are exactly as they were (issue 25,
finding 2): the uploads name those genes' ids, and one tries to rename PKD1.

Socket floods (issue 25) against the same kind of daphne: bursts of resyncs and pings, quick
reconnects, a client that never reads, a logout and a demotion with a socket open. Each
ends in its documented close code, a staff dashboard stays open and answers, and daphne
grows by less than 100 MB. SOCKET_FLOOD_EXAMPLES sets the number of generated floods (6).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from typing import Any

import pytest
import requests
from django.contrib.auth.models import Permission
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from curation.factories import GeneFactory, ScopeFactory
from curation.gene_import import GENE_FIELDS
from curation.models import Gene, Scope, ScopeGene
from progress.models import ACTIVE_STATUSES, OperationProgress
from progress.protocol import MAX_FRAME_BYTES
from progress.testing import eventually
from progress.tests.factories import StaffFactory, UserFactory
from progress.tests.wsutil import session_cookie
from tests.live import LiveStack

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

PASSWORD = "hostile-input-pw-1"
START = "/api/v1/pipelines/gene_import/start/"


class StaffSocket:
    """A staff dashboard socket read on its own thread; records every frame's size and type."""

    def __init__(self, url: str, cookie: bytes) -> None:
        self.sizes: list[int] = []
        self.types: list[str] = []
        self.closed_with: int | None = None
        origin = url.replace("ws://", "http://").split("/ws/")[0]
        self._socket = connect(
            url,
            additional_headers={"Cookie": cookie.decode(), "Origin": origin},
            max_size=None,  # record oversize frames instead of refusing them client-side
            open_timeout=10,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for frame in self._socket:
                self.sizes.append(len(frame.encode() if isinstance(frame, str) else frame))
                self.types.append(json.loads(frame).get("type", "?"))
        except ConnectionClosed as closed:
            self.closed_with = closed.rcvd.code if closed.rcvd else 1006

    def ping(self) -> None:
        self._socket.send(json.dumps({"type": "ping"}))

    def close(self) -> None:
        self._socket.close()
        self._thread.join(5)


@pytest.fixture
def live(transactional_db):
    stack = LiveStack()
    yield stack
    stack.stop()


def wait_until_all_finished(timeout: float = 120.0) -> list[OperationProgress]:
    """Every run, once none is queued or running."""
    eventually(
        lambda: not OperationProgress.objects.filter(status__in=ACTIVE_STATUSES).exists(),
        timeout,
        step=0.2,
    )
    return list(OperationProgress.objects.all())


# --- upload strategies ---------------------------------------------------------------------

# Characters for which str.isdigit() is true but int() fails, or int() parses non-ASCII.
ODD_DIGITS = st.sampled_from(
    ["\u00b2", "\u0661\u0662", "\U0001d7d7", "\u216b", "\u09e6", "9" * 25, "-1", "1e9", "0x1F"]
)
FORMULAS = st.sampled_from(["=1+1*cmd|' /C calc'!A0", "+SUM(A1)", "-2+3", "@x", "\tx", "\rx"])
HUGE = st.integers(1_000, 90_000).map(lambda n: "X" * n)
cell = st.one_of(
    st.text(max_size=30),
    ODD_DIGITS,
    FORMULAS,
    HUGE,
    st.from_regex(r"HGNC:[0-9]{1,7}", fullmatch=True),
)
rows = st.lists(st.lists(cell, min_size=0, max_size=5), min_size=1, max_size=30)


def delimited(table: list[list[str]], delimiter: str) -> bytes:
    return "\n".join(delimiter.join(r) for r in table).encode("utf-8", "surrogatepass")


def utf16(data: bytes) -> bytes:
    return data.decode("utf-8", "replace").encode("utf-16")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | cell,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(["symbol", "hgnc_id", "panels", "location"]), children)
    ),
    max_leaves=30,
)
uploads = st.one_of(
    rows.map(lambda t: ("genes.csv", delimited(t, ","))),
    rows.map(lambda t: ("genes.tsv", delimited(t, "\t"))),
    json_values.map(lambda v: ("genes.json", json.dumps(v).encode())),
    st.binary(max_size=2_000).map(lambda b: ("genes.csv", b)),
    rows.map(
        lambda t: ("genes.csv", delimited(t, ",").decode("utf-8", "replace").encode("utf-16"))
    ),
    st.tuples(st.text(min_size=1, max_size=300), rows).map(
        lambda pair: (pair[0] + ".csv", delimited(pair[1], ","))
    ),
)


def shared_scope() -> Scope:
    """Staff's shared scope (no owner), listing PKD1 and the small ids uploads often hold."""
    scope = ScopeFactory(name="staff-shared")
    for number in [*range(10), 9008]:
        gene = GeneFactory(hgnc_id=f"HGNC:{number}", approved_symbol=f"SHARED{number}")
        ScopeGene.objects.create(scope=scope, gene=gene)
    return scope


def shared_genes(scope: Scope) -> list[tuple[Any, ...]]:
    return list(Gene.objects.filter(scopes=scope).order_by("hgnc_id").values_list(*GENE_FIELDS))


def test_hostile_uploads_never_5xx_and_never_hurt_a_staff_dashboard(live):
    curator = UserFactory(username="curator", password=PASSWORD)
    curator.user_permissions.add(Permission.objects.get(codename="start_pipeline"))
    ScopeFactory(name="hostile", owner=curator)
    shared = shared_scope()
    shared_before = shared_genes(shared)
    staff = StaffFactory(username="watcher")
    socket = StaffSocket(
        live.url.replace("http://", "ws://") + "/ws/progress/", session_cookie(staff)
    )
    statuses: list[int] = []

    @settings(
        max_examples=int(os.environ.get("HOSTILE_EXAMPLES", "40")),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )
    @given(upload=uploads)
    @example(upload=("genes.json", b"[" + b"9" * 5000 + b"]"))
    @example(upload=("genes.json", b"[" * 100_000))
    @example(upload=("x" * 250 + ".csv", b"HGNC:5,PKD1\n"))
    @example(upload=("genes.csv", "HGNC:10\n²\nHGNC:11\n".encode()))
    @example(upload=("big.json", json.dumps([{"symbol": "S" * 80_000}] * 7).encode()))
    @example(upload=("genes.csv", b"hgnc_id,symbol,location,alias_symbols\n9008,X,Xq9,fake\n"))
    def post(upload: tuple[str, bytes]) -> None:
        name, body = upload
        response = requests.post(
            live.url + START,
            files={"file": (name, body)},
            data={"scope": "hostile"},
            auth=("curator", PASSWORD),
            timeout=30,
        )
        statuses.append(response.status_code)
        assert response.status_code < 500, response.text[:500]
        assert response.headers["Content-Type"].startswith("application/json")

    try:
        post()
        runs = wait_until_all_finished()
        socket.ping()
        eventually(lambda: "pong" in socket.types, 10)  # the socket still answers
        assert socket.closed_with is None, f"staff socket closed with {socket.closed_with}"
        assert any(s == 202 for s in statuses), statuses  # some uploads were accepted
        assert any(s == 400 for s in statuses), statuses  # and some refused
        assert runs, "no run was created"
        assert socket.sizes, "the staff socket received nothing"
        assert max(socket.sizes) <= MAX_FRAME_BYTES
        assert "pong" in socket.types
        assert {"task_completed", "task_failed"} & set(socket.types)
        assert shared_genes(shared) == shared_before  # no upload rewrote a shared gene
    finally:
        socket.close()

    # A staff member arriving afterwards still gets a snapshot, in bounded frames.
    late = StaffSocket(
        live.url.replace("http://", "ws://") + "/ws/progress/", session_cookie(staff)
    )
    try:
        eventually(lambda: "snapshot" in late.types, 10, step=0.05)
        assert late.closed_with is None
        assert max(late.sizes) <= MAX_FRAME_BYTES
    finally:
        late.close()


# --- socket floods (issue 25) against the same real daphne ------------------------------

FLOOD_ENV = {"PROGRESS_SOCKET_AUTH_RECHECK_SECONDS": "0.5"}
flood_steps = st.lists(
    st.tuples(
        st.sampled_from(["resync", "ping", "reconnect", "no-read", "logout", "demote"]),
        st.integers(1, 120),
    ),
    min_size=1,
    max_size=3,
)


def open_ws(url: str, cookie: bytes) -> Any:
    origin = url.replace("ws://", "http://").split("/ws/")[0]
    return connect(
        url, additional_headers={"Cookie": cookie.decode(), "Origin": origin}, open_timeout=10
    )


def frames_until_quiet(ws: Any, quiet: float = 1.0) -> tuple[list[str], int | None]:
    """Frames (heartbeats left out) until quiet seconds without one; the close code if closed."""
    frames = []
    try:
        while True:
            frame = ws.recv(timeout=quiet)
            if json.loads(frame).get("type") != "heartbeat":
                frames.append(frame)
    except TimeoutError:
        return frames, None
    except ConnectionClosed as closed:
        return frames, closed.rcvd.code if closed.rcvd else 1006


def daphne_rss_mb(stack: LiveStack) -> int:
    assert stack.daphne is not None
    with open(f"/proc/{stack.daphne.pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS"))
    return int(line.split()[1]) // 1024


def flood_step(ws_url: str, user: Any, kind: str, count: int) -> None:
    """One hostile step as user; asserts it ends as docs/security.md says."""
    from django.contrib.sessions.models import Session

    from progress import protocol
    from tests.test_reliability import raw_websocket_that_never_reads
    from tests.test_socket_floods import masked_text_frame

    cookie = session_cookie(user)
    if kind == "reconnect":
        started, served = time.monotonic(), 0
        for _ in range(count):
            ws = open_ws(ws_url, cookie)
            frames, code = frames_until_quiet(ws, quiet=0.2)
            assert code in (None, protocol.CLOSE_CONNECTING_TOO_FAST)
            served += code is None
            ws.close()
        assert served <= 30 + 5 * (time.monotonic() - started) + 1  # CONNECT_BURST, _RATE
        return
    if kind == "no-read":
        sock = raw_websocket_that_never_reads(ws_url.replace("ws://", "http://"), cookie)
        with contextlib.suppress(OSError):  # closed by the server already
            sock.sendall(masked_text_frame(json.dumps({"type": "resync"})) * count)
        sock.close()
        return
    ws = open_ws(ws_url, cookie)
    frames_until_quiet(ws, quiet=0.5)  # the snapshot
    if kind == "logout":
        Session.objects.filter(session_key=cookie.decode().split("=", 1)[1]).delete()
        assert frames_until_quiet(ws, quiet=3)[1] == protocol.CLOSE_UNAUTHENTICATED
        return
    if kind == "demote":
        type(user).objects.filter(pk=user.pk).update(is_staff=False)
        code = frames_until_quiet(ws, quiet=3)[1]
        type(user).objects.filter(pk=user.pk).update(is_staff=True)
        assert code == protocol.CLOSE_FORBIDDEN
        return
    message = json.dumps({"type": kind, "since": {}} if kind == "resync" else {"type": kind})
    for _ in range(count):
        try:
            ws.send(message)
        except ConnectionClosed:
            break
    frames, code = frames_until_quiet(ws)
    assert len(frames) <= 60 + 1  # CLIENT_BURST: never an answer past it
    assert code in (None, protocol.CLOSE_RATE_LIMITED)
    if count > 60 and kind == "ping":
        assert code == protocol.CLOSE_RATE_LIMITED  # charged as the frames arrived
    ws.close()


def test_socket_floods_end_in_documented_closes_and_never_hurt_a_staff_dashboard(
    transactional_db,
):
    stack = LiveStack(worker=False, **FLOOD_ENV)
    ws_url = stack.url.replace("http://", "ws://") + "/ws/progress/"
    watcher = StaffFactory(username="flood-watcher")
    dashboard = StaffSocket(ws_url, session_cookie(watcher))

    @settings(
        max_examples=int(os.environ.get("SOCKET_FLOOD_EXAMPLES", "6")),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )
    @given(steps=flood_steps)
    @example(steps=[("ping", 120), ("logout", 1)])
    @example(steps=[("reconnect", 60), ("resync", 100), ("demote", 1)])
    def flood(steps: list[tuple[str, int]]) -> None:
        user = StaffFactory()  # a fresh user: its own connect bucket
        for kind, count in steps:
            flood_step(ws_url, user, kind, count)

    try:
        eventually(lambda: "snapshot" in dashboard.types, 10, step=0.05)
        before = daphne_rss_mb(stack)
        flood()
        dashboard.ping()
        eventually(lambda: "pong" in dashboard.types, 10)
        assert dashboard.closed_with is None, f"the dashboard closed with {dashboard.closed_with}"
        assert daphne_rss_mb(stack) - before < 100
    finally:
        dashboard.close()
        stack.stop()
