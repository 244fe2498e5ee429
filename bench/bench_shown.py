"""A dashboard's traffic: every visible run (ws/progress/) against the runs it shows
(ws/progress/?view=shown), with many runs active (issue 26, figures 1 and 2).

    .venv/bin/python bench/bench_shown.py [--runs 2000] [--rate 1] [--shown 20]
        [--dashboards 200] [--pages K] [--servers 1] [--seconds 10] [--phases all,shown]
        [--client-processes 2] [--sample 5] [--json out.json]
    .venv/bin/python bench/bench_shown.py --floor [--dashboards 1000] [--seconds 10]

Figure 1 at full scale (10,000 runs at 1 Hz, 1,000 dashboards showing 1,000 distinct runs):

    bench_shown.py --runs 10000 --dashboards 1000 --pages 50 --phases shown --seconds 20

Real daphnes (`--servers`, each its own process) serve the project on PostgreSQL and Redis
(bench/common.py's environment). `--runs` runs exist in the table. A producer process
publishes each run's state `--rate` times a second straight to Redis, to the groups the
writer would use (all runs, the run's own, its owner's): the bytes the channel layer would
publish (the message is protocol.layer_message()'s for the run's serialized row, checked at
start, and serialized by the layer's own serialize()), pipelined PUBLISH commands on one
connection, each state stamped with the time it was sent in `current_operation` ("t=...").
It simulates many workers' writers without their database writes (those cost what
`DB_INTERVAL` says, one UPDATE per run per second at most, and are not what this figure is
about). Its own CPU is measured and reported.

Phase "all": one staff socket on ws/progress/ (the firehose), counted. Phase "shown":
`--dashboards` staff sockets spread over the servers (and `--client-processes`), each
showing `--shown` runs with the list page's filters. Which runs: with `--pages K`, dashboard
i shows page i mod K (K distinct windows of `--shown` runs, so K x shown distinct runs in
all); by default every dashboard its own window, as pages of different users would.
Dashboard i is served by server i mod `--servers`.

The clients are cheap so that they keep up: websockets' Sans-I/O protocol on asyncio
transports (bench/wsclient.py's Connection), frames as bytes, states counted by their
`"data":{"id":` marker, summaries by their type; the send stamps are read (staleness) from
one frame in `--sample`.

Reported per phase: run states and frames per second per dashboard (mean and the busiest
dashboard), KiB/s, summaries/s, staleness of the states a dashboard received (sent -> read,
p50/p99), the daphnes' CPU (each process, and per delivered frame), their RSS, and what
each serving process takes in from Redis: the run groups it is subscribed to and the
states per second it reads from them (bench_asgi's stats), beside the distinct runs its
dashboards show and the states offered. Also the producer's, the clients' and the Redis
server's CPU. Then whether issue 26's goals hold.

`--floor` (figure 2): in one invocation, (a) the fan-out of one run at `--rate` 10 Hz to
`--dashboards` shown dashboards (as `--runs 1 --shown 1 --rate 10 --phases shown`), then
(b) Python's floor: a websockets.broadcast server (websockets' asyncio API) in its own
process, the same number of clients, the same frame (the run's state as daphne sent it in
(a), built once per broadcast) at the same rate for the same seconds. Both are CPU of the
serving process per message the clients counted; the ratio is the figure (goal: <= 2).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import socket
import sys
import time
from array import array
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_cancel import ensure_database  # noqa: E402
from common import (  # noqa: E402
    RESULTS_DIR,
    Daphne,
    bench_env,
    free_port,
    percentile,
    setup_django,
    staff_sessions,
)

# What the clients look for in a frame (bytes, no decoding).
RUN_MARK = b'"data":{"id":'
SUMMARY_PREFIX = b'{"type":"summary"'
SNAPSHOT_PREFIX = b'{"type":"snapshot"'
# Placeholders in a run's encoded state, replaced per state by the producer.
SEQ_MARK = 987_654_321_012_345
ITEM_MARK = 987_654_321_054_321
OPERATION_MARK = "bench-operation-mark"
# Goals of issue 26, figure 1 and 2.
GOAL_STALENESS_P99_MS = 500.0
GOAL_DAPHNE_CPU_PERCENT = 100.0
GOAL_FLOOR_RATIO = 2.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, help="default 2000 (--floor: 1)")
    parser.add_argument("--rate", type=float, help="states per run per second (1; --floor: 10)")
    parser.add_argument("--shown", type=int, help="runs each dashboard shows (20; --floor: 1)")
    parser.add_argument("--dashboards", type=int, default=200)
    parser.add_argument(
        "--pages",
        type=int,
        default=0,
        help="distinct windows the dashboards show (dashboard i: page i mod K); "
        "0: every dashboard its own window",
    )
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument(
        "--phases", default="all,shown", help="all (the firehose socket), shown, or both"
    )
    parser.add_argument(
        "--sample", type=int, default=5, help="read send stamps from one frame in this many"
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="figure 2: one run's fan-out, then websockets.broadcast's floor, same clients",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    defaults = {"runs": (2000, 1), "rate": (1.0, 10.0), "shown": (20, 1)}
    for key, (normal, floor) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, floor if args.floor else normal)
    if args.floor:
        args.phases = "shown"
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not set(args.phases) <= {"all", "shown"}:
        parser.error("--phases takes all, shown or all,shown")
    return args


def create_runs(count: int, username: str) -> tuple[list[int], int]:
    from django.contrib.auth.models import User
    from django.utils import timezone

    from progress.models import OperationProgress, Status

    user = User.objects.get(username=username)
    OperationProgress.objects.filter(operation_name="bench_shown").delete()
    now = timezone.now()
    runs = OperationProgress.objects.bulk_create(
        OperationProgress(
            operation_name="bench_shown",
            status=Status.RUNNING,
            created_by=user,
            started_at=now,
            total_items=1_000_000,
        )
        for _ in range(count)
    )
    return [run.pk for run in runs], user.pk


# --- the producer ------------------------------------------------------------------------


def state_templates(run_ids: list[int]) -> dict[int, str]:
    """Each run's event text as the writer encodes it (serializers.operation_data, then
    protocol.layer_message), with %(seq)d, %(item)d and %(sent).6f placeholders."""
    from channels.layers import get_channel_layer

    from progress import protocol
    from progress.models import OperationProgress
    from progress.serializers import operation_data

    templates = {}
    for run in OperationProgress.objects.filter(pk__in=run_ids).order_by("pk").iterator(2000):
        data = operation_data(run)
        data.update(seq=SEQ_MARK, current_item=ITEM_MARK, current_operation=OPERATION_MARK)
        text = protocol.layer_message(data)["text"].replace("%", "%%")
        for mark, slot in (
            (str(SEQ_MARK), "%(seq)d"),
            (str(ITEM_MARK), "%(item)d"),
            (json.dumps(OPERATION_MARK), '"t=%(sent).6f"'),
        ):
            assert text.count(mark) == 1, (mark, text)
            text = text.replace(mark, slot)
        templates[run.pk] = text
        # The template gives exactly the writer's message (checked for the first run).
        if len(templates) == 1:
            data.update(seq=11, current_item=11, current_operation="t=1.500000")
            expected = protocol.layer_message(data)
            made = state_message(run.pk, 11, text % {"seq": 11, "item": 11, "sent": 1.5})
            # ... to the byte, as the layer serializes it (msgpack keeps the keys' order).
            serialize = get_channel_layer().serialize
            assert serialize(made) == serialize(expected), (made, expected)
    return templates


def state_message(pk: int, seq: int, text: str) -> dict[str, Any]:
    """protocol.layer_message()'s dict for a running state already encoded."""
    from progress import protocol

    return {"type": protocol.LAYER_EVENT, "id": pk, "seq": seq, "final": False, "text": text}


def group_channels(run_ids: list[int], owner: int) -> dict[int, list[bytes]]:
    """Per run, the Redis channels its states are published to (the layer's own names)."""
    from channels.layers import get_channel_layer

    from progress.publish.visibility import run_groups

    async def names() -> dict[int, list[bytes]]:
        loop_layer = get_channel_layer()._get_layer()
        return {
            pk: [loop_layer._get_group_channel_name(g).encode() for g in run_groups(pk, owner)]
            for pk in run_ids
        }

    return asyncio.run(names())


def redis_socket() -> socket.socket:
    """A plain connection to the channel layer's Redis (REDIS_URL; PUBLISH ignores the db)."""
    url = urlsplit(os.environ["REDIS_URL"])
    sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), 5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if url.password:
        user = url.username or "default"
        command = resp(b"AUTH", user.encode(), url.password.encode())
        sock.sendall(command)
        if not sock.recv(1024).startswith(b"+OK"):
            raise RuntimeError("Redis refused AUTH")
    return sock


def resp(*parts: bytes) -> bytes:
    """One Redis command in RESP."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out += [b"$%d\r\n" % len(part), part, b"\r\n"]
    return b"".join(out)


def producer_process(
    templates: dict[int, str],
    channels: dict[int, list[bytes]],
    rate: float,
    stop: Any,
    sent: Any,
) -> None:
    """Each run's state rate times a second, spread evenly over slices of a second, to its
    groups: the layer's serialized message, PUBLISHed pipelined (one write and the replies
    read per slice), stamped with the time it was serialized. The runs take their turns in
    a shuffled order, as independent workers would: a dashboard's runs (neighbours in the
    list) do not all arrive in one slice."""
    from channels.layers import get_channel_layer

    from progress import protocol

    serialize = get_channel_layer().serialize
    event = protocol.LAYER_EVENT
    run_ids = list(templates)
    random.Random(26).shuffle(run_ids)
    heads = {
        pk: [b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n" % (len(c), c) for c in names]
        for pk, names in channels.items()
    }
    seqs = dict.fromkeys(run_ids, 10)
    sock = redis_socket()
    slices = 20
    share_exact = len(run_ids) * rate / slices
    owed = 0.0
    position = 0
    next_at = time.monotonic()
    while not stop.is_set():
        owed += share_exact
        share = int(owed)
        owed -= share
        parts: list[bytes] = []
        for _ in range(share):
            pk = run_ids[position % len(run_ids)]
            position += 1
            seq = seqs[pk] = seqs[pk] + 1
            text = templates[pk] % {"seq": seq, "item": seq, "sent": time.time()}
            # state_message()'s dict, built inline (checked against the writer's at start)
            payload = serialize({"type": event, "id": pk, "seq": seq, "final": False, "text": text})
            tail = b"$%d\r\n%s\r\n" % (len(payload), payload)
            for head in heads[pk]:
                parts += (head, tail)
        if parts:
            sock.sendall(b"".join(parts))
            replies = len(parts) // 2
            buffer = b""
            lines = 0
            while lines < replies:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    raise RuntimeError("Redis closed the producer's connection")
                lines += chunk.count(b"\r\n")
                buffer = chunk[-256:]
                if b"-ERR" in chunk or b"-WRONG" in chunk:
                    raise RuntimeError(f"Redis refused a PUBLISH: {buffer!r}")
            with sent.get_lock():
                sent.value += share
        next_at += 1.0 / slices
        time.sleep(max(0.0, next_at - time.monotonic()))
    sock.close()


# --- the clients -------------------------------------------------------------------------


class Dashboard:
    """One socket's counts (per dashboard, to report the busiest)."""

    __slots__ = ("conn", "frames", "shown", "states")

    def __init__(self, shown: bool) -> None:
        self.conn: Any = None
        self.frames = 0
        self.states = 0
        self.shown = shown  # False until the answer to its show (a snapshot) arrived


def clients_process(
    specs: list[tuple], sample: int, measuring: Any, stop: Any, ready: Any, results: Any
) -> None:
    """Some of the dashboards in one process; their counts go to results when stopped."""
    from wsclient import open_ws, stamps

    stats: dict[str, Any] = {
        "frames": 0,
        "states": 0,
        "bytes": 0,
        "state_frames": 0,
        "state_bytes": 0,
        "summaries": 0,
        "connected": 0,
        "failed": 0,
        "closed": 0,
        "errors": {},
    }
    staleness = array("d")
    active = [False]
    counter = [0]

    def on_frame(board: Dashboard, data: bytes) -> None:
        if not board.shown and data.startswith(SNAPSHOT_PREFIX):
            # The answer to show (or the first part of the all-runs snapshot): following.
            board.shown = True
            with ready.get_lock():
                ready.value += 1
            return
        if not active[0]:
            return
        states = data.count(RUN_MARK)
        stats["frames"] += 1
        stats["bytes"] += len(data)
        board.frames += 1
        if states:
            board.states += states
            stats["states"] += states
            stats["state_frames"] += 1
            stats["state_bytes"] += len(data)
            counter[0] += 1
            if counter[0] % sample == 0:
                now = time.time()
                staleness.extend(now - sent for _run, sent in stamps(data))
        elif data.startswith(SUMMARY_PREFIX):
            stats["summaries"] += 1

    async def dashboard(board: Dashboard, url: str, cookie: str, origin: str, show: Any) -> None:
        try:
            board.conn, _first = await open_ws(
                url, origin, cookie, lambda data: on_frame(board, data), 60
            )
        except Exception as exc:
            stats["failed"] += 1
            kind = f"{type(exc).__name__}: {exc}"[:80]
            stats["errors"][kind] = stats["errors"].get(kind, 0) + 1
            return
        stats["connected"] += 1
        if show is None:
            with ready.get_lock():
                ready.value += 1
        else:
            board.conn.send_text(json.dumps(show))
        await board.conn.closed
        if not stop.is_set():
            stats["closed"] += 1

    async def main() -> None:
        boards = [Dashboard(shown=spec[3] is None) for spec in specs]
        tasks = []
        for index, (board, spec) in enumerate(zip(boards, specs, strict=True)):
            tasks.append(asyncio.create_task(dashboard(board, *spec)))
            if index % 50 == 49:
                await asyncio.sleep(0.2)  # not a storm: dashboards open over a few seconds
        cpu = 0.0
        while not stop.is_set():  # the parent's events, read here, not once per frame
            if measuring.is_set() and not active[0]:
                cpu = time.process_time()
                active[0] = True
            elif active[0] and not measuring.is_set():
                active[0] = False
                stats["cpu_s"] = time.process_time() - cpu
            await asyncio.sleep(0.05)
        stats["per_dashboard_states"] = [b.states for b in boards]
        stats["per_dashboard_frames"] = [b.frames for b in boards]
        await asyncio.gather(
            *(b.conn.close(2) for b in boards if b.conn is not None), return_exceptions=True
        )
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    stats["staleness"] = staleness.tobytes()
    results.put(stats)


# --- measuring ---------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def redis_info() -> dict[str, Any]:
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        return client.info("cpu")
    finally:
        client.close()


def redis_cpu_seconds() -> float:
    info = redis_info()
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def redis_subscriptions(run_ids: list[int]) -> tuple[int, int]:
    """(subscriptions to run groups, to the all-runs group) over every process."""
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    prefix = os.environ.get("CHANNEL_PREFIX", "asgi")
    try:
        names = [f"{prefix}__group__progress.op.{pk}" for pk in run_ids]
        run_subscriptions = 0
        for start in range(0, len(names), 1000):
            run_subscriptions += sum(
                n for _name, n in client.pubsub_numsub(*names[start : start + 1000])
            )
        ((_name, all_subscriptions),) = client.pubsub_numsub(f"{prefix}__group__progress.all")
        return run_subscriptions, all_subscriptions
    finally:
        client.close()


def window_of(index: int, run_ids: list[int], shown: int, pages: int) -> list[int]:
    """The runs dashboard index shows: page index mod pages, or its own window."""
    page = index % pages if pages else index
    start = (page * shown) % max(1, len(run_ids) - shown + 1)
    return run_ids[start : start + shown]


def start_clients(context: Any, specs: list[tuple], args: argparse.Namespace) -> dict[str, Any]:
    """--client-processes processes (forked) sharing the specs, and their events."""
    from django.db import connections

    connections.close_all()  # forked children must not share the parent's connection
    run = {
        "measuring": context.Event(),
        "stop": context.Event(),
        "ready": context.Value("q", 0),
        "results": context.Queue(),
    }
    count = max(1, min(args.client_processes, len(specs)))
    run["processes"] = [
        context.Process(
            target=clients_process,
            args=(
                specs[i::count],
                max(1, args.sample),
                run["measuring"],
                run["stop"],
                run["ready"],
                run["results"],
            ),
        )
        for i in range(count)
    ]
    for process in run["processes"]:
        process.start()
    return run


def wait_ready(clients: dict[str, Any], expected: int) -> int:
    """Until every dashboard follows its runs (or a bound); then a moment to settle."""
    deadline = time.monotonic() + 30 + expected / 20
    while clients["ready"].value < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2.0)
    return clients["ready"].value


def measure_window(
    clients: dict[str, Any],
    seconds: float,
    pids: dict[str, list[int]],
    servers: list[Daphne] | None = None,
    sent: Any = None,
) -> dict[str, Any]:
    """CPU of each named group of processes (and Redis, the servers' Redis intake and the
    producer's `sent` count) over one window in which the clients count."""
    before = {name: [cpu_seconds(p) for p in group] for name, group in pids.items()}
    redis_before = redis_cpu_seconds()
    stats_before = [s.stats() for s in servers or []]
    sent_before = sent.value if sent is not None else 0
    started = time.monotonic()
    clients["measuring"].set()
    time.sleep(seconds)
    clients["measuring"].clear()
    elapsed = time.monotonic() - started
    sent_during = (sent.value if sent is not None else 0) - sent_before
    stats_after = [s.stats() for s in servers or []]
    cpu = {
        name: [cpu_seconds(p) - b for p, b in zip(group, before[name], strict=True)]
        for name, group in pids.items()
    }
    return {
        "elapsed": elapsed,
        "sent": sent_during,
        "cpu_s": cpu,
        "redis_cpu_s": redis_cpu_seconds() - redis_before,
        "stats_before": stats_before,
        "stats_after": stats_after,
    }


def collect(clients: dict[str, Any]) -> dict[str, Any]:
    """Stop the clients and merge their counts."""
    time.sleep(0.2)  # the clients read `measuring` cleared and take their CPU reading
    clients["stop"].set()
    parts = [clients["results"].get(timeout=120) for _ in clients["processes"]]
    for process in clients["processes"]:
        process.join(30)
    merged: dict[str, Any] = {
        key: sum(part[key] for part in parts)
        for key in (
            "frames",
            "states",
            "bytes",
            "state_frames",
            "state_bytes",
            "summaries",
            "connected",
            "failed",
            "closed",
        )
    }
    merged["client_cpu_s"] = [part.get("cpu_s", float("nan")) for part in parts]
    merged["per_dashboard_states"] = [n for part in parts for n in part["per_dashboard_states"]]
    errors: dict[str, int] = {}
    for part in parts:
        for kind, n in part["errors"].items():
            errors[kind] = errors.get(kind, 0) + n
    merged["errors"] = errors
    staleness = array("d")
    for part in parts:
        staleness.frombytes(part["staleness"])
    merged["staleness"] = list(staleness)
    return merged


def phase(
    servers: list[Daphne],
    cookies: list[str],
    mode: str,
    run_ids: list[int],
    owner: int,
    templates: dict[int, str],
    channels: dict[int, list[bytes]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """One mode: the producer and the dashboards (in --client-processes) for --seconds."""
    dashboards = 1 if mode == "all" else args.dashboards
    specs = []
    shown_by_server: list[set[int]] = [set() for _ in servers]
    dashboards_by_server = [0] * len(servers)
    for i in range(dashboards):
        server = servers[i % len(servers)]
        dashboards_by_server[i % len(servers)] += 1
        show = None
        url = server.ws_url
        if mode == "shown":
            window = window_of(i, run_ids, args.shown, args.pages)
            shown_by_server[i % len(servers)].update(window)
            filters = {"status": "", "q": "", "failures": False}
            show = {"type": "show", "runs": window, "filters": filters, "since": max(run_ids)}
            url += "?view=shown"
        specs.append((url, f"sessionid={cookies[i]}", server.origin, show))
    context = multiprocessing.get_context("fork")
    producing = context.Event()
    sent = context.Value("q", 0)
    producer = context.Process(
        target=producer_process, args=(templates, channels, args.rate, producing, sent)
    )
    clients = start_clients(context, specs, args)
    producer.start()
    following = wait_ready(clients, dashboards)
    subscriptions = redis_subscriptions(run_ids)
    load_before = os.getloadavg()[0]
    window = measure_window(
        clients,
        args.seconds,
        {
            "daphne": [s.pid for s in servers],
            "producer": [producer.pid],
            "clients": [p.pid for p in clients["processes"]],
        },
        servers,
        sent,
    )
    seconds = window["elapsed"]
    offered = window["sent"] / seconds
    rss = [rss_mib(s.pid) for s in servers]
    producing.set()
    stats = collect(clients)
    producer.join(30)
    staleness = stats["staleness"] or [float("nan")]
    per = seconds * dashboards
    per_dashboard = [n / seconds for n in stats["per_dashboard_states"]] or [0.0]
    processes = []
    for k, server in enumerate(servers):
        before, after = window["stats_before"][k], window["stats_after"][k]
        intake = {
            kind: (after["redis_in"][kind] - before["redis_in"][kind]) / seconds
            for kind in after["redis_in"]
        }
        processes.append(
            {
                "pid": server.pid,
                "dashboards": dashboards_by_server[k],
                "distinct_runs_shown": len(shown_by_server[k]),
                "subscribed": after["subscribed"],
                "redis_in_per_s": intake,
                "cpu_percent": 100 * window["cpu_s"]["daphne"][k] / seconds,
                "rss_mib": rss[k],
            }
        )
    daphne_cpu = sum(window["cpu_s"]["daphne"])
    return {
        "mode": mode,
        "seconds": seconds,
        "servers": len(servers),
        "dashboards": dashboards,
        "following": following,
        "connected": stats["connected"],
        "failed": stats["failed"],
        "closed_during": stats["closed"],
        "errors": stats["errors"],
        "offered_states_per_s": offered,
        "states_per_s": stats["states"] / per,
        "states_per_s_busiest": max(per_dashboard),
        "frames_per_s": stats["frames"] / per,
        "kib_per_s": stats["bytes"] / 1024 / per,
        "summaries_per_s": stats["summaries"] / per,
        "state_frame_bytes": stats["state_bytes"] / max(1, stats["state_frames"]),
        "frames": stats["frames"],
        "staleness_samples": len(stats["staleness"]),
        "staleness_p50_ms": 1000 * percentile(staleness, 50),
        "staleness_p99_ms": 1000 * percentile(staleness, 99),
        "daphne_cpu_percent": 100 * daphne_cpu / seconds,
        "cpu_us_per_frame": 1e6 * daphne_cpu / max(1, stats["frames"]),
        "producer_cpu_percent": 100 * window["cpu_s"]["producer"][0] / seconds,
        "client_cpu_percent": [100 * c / seconds for c in window["cpu_s"]["clients"]],
        "redis_cpu_percent": 100 * window["redis_cpu_s"] / seconds,
        "rss_mib": rss,
        "loadavg_1min": [load_before, os.getloadavg()[0]],
        "processes": processes,
        "run_group_subscriptions": subscriptions[0],
        "all_group_subscriptions": subscriptions[1],
    }


def goals(row: dict[str, Any], args: argparse.Namespace) -> list[tuple[str, bool]]:
    """Issue 26's figure-1 goals for a shown phase, each with whether it holds."""
    cap = args.shown * args.rate
    checks = [
        (
            f"states/s per dashboard <= ~{cap:g} (+ summaries): mean "
            f"{row['states_per_s']:.1f}, busiest {row['states_per_s_busiest']:.1f}, "
            f"summaries {row['summaries_per_s']:.2f}/s",
            row["states_per_s_busiest"] <= 1.1 * cap,
        ),
        (
            f"staleness p99 <= {GOAL_STALENESS_P99_MS:.0f} ms: {row['staleness_p99_ms']:.0f} ms",
            row["staleness_p99_ms"] <= GOAL_STALENESS_P99_MS,
        ),
        (
            "daphne CPU < one core per process: "
            + " / ".join(f"{p['cpu_percent']:.0f} %" for p in row["processes"]),
            all(p["cpu_percent"] < GOAL_DAPHNE_CPU_PERCENT for p in row["processes"]),
        ),
    ]
    for k, p in enumerate(row["processes"]):
        expected = p["distinct_runs_shown"] * args.rate
        intake = p["redis_in_per_s"]["run_groups"]
        checks.append(
            (
                f"daphne {k}: Redis in follows the runs shown: {intake:,.0f} run states/s "
                f"from {p['subscribed']['run_groups']:,} run groups for "
                f"{p['distinct_runs_shown']:,} distinct runs shown (x {args.rate:g} Hz = "
                f"{expected:,.0f}), of {row['offered_states_per_s']:,.0f} offered; "
                f"all-runs group: {p['subscribed']['all_group']} subscribed, "
                f"{p['redis_in_per_s']['all_group']:,.0f}/s",
                p["subscribed"]["run_groups"] == p["distinct_runs_shown"]
                and abs(intake - expected) <= 0.1 * expected + 5
                and p["subscribed"]["all_group"] == 0,
            )
        )
    return checks


def print_phases(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"{args.runs} runs at {args.rate:g} Hz, {args.servers} daphne(s), "
        f"{args.shown} runs per shown dashboard"
        + (f" from {args.pages} pages" if args.pages else " (each its own window)")
        + f", {args.seconds:g} s measured per phase"
    )
    print(
        "| socket | dashboards (following) | states offered/s | states/s per dashboard "
        "(busiest) | frames/s | KiB/s | staleness p50 / p99 | daphne CPU (µs per frame) "
        "| RSS | Redis subs: run groups / all | producer CPU | clients CPU | Redis CPU |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in results:
        rss = " + ".join(f"{value:.0f}" for value in row["rss_mib"])
        cpu = " + ".join(f"{p['cpu_percent']:.0f}" for p in row["processes"])
        clients = " + ".join(f"{c:.0f}" for c in row["client_cpu_percent"])
        print(
            f"| {row['mode']} | {row['dashboards']} ({row['following']}) "
            f"| {row['offered_states_per_s']:,.0f} "
            f"| {row['states_per_s']:.1f} ({row['states_per_s_busiest']:.1f}) "
            f"| {row['frames_per_s']:.1f} | {row['kib_per_s']:.1f} "
            f"| {row['staleness_p50_ms']:.0f} / {row['staleness_p99_ms']:.0f} ms "
            f"| {cpu} % ({row['cpu_us_per_frame']:.0f} µs) "
            f"| {rss} MiB | {row['run_group_subscriptions']:,} / {row['all_group_subscriptions']} "
            f"| {row['producer_cpu_percent']:.0f} % | {clients} % "
            f"| {row['redis_cpu_percent']:.0f} % |"
        )
    for row in results:
        print(f"\nPer serving process, phase {row['mode']}:")
        print(
            "| daphne | dashboards | distinct runs shown | subscribed: run groups / all "
            "| Redis in: run states/s (all group, other) | states offered/s | CPU | RSS |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for k, p in enumerate(row["processes"]):
            intake = p["redis_in_per_s"]
            print(
                f"| {k} | {p['dashboards']} | {p['distinct_runs_shown']:,} "
                f"| {p['subscribed']['run_groups']:,} / {p['subscribed']['all_group']} "
                f"| {intake['run_groups']:,.0f} ({intake['all_group']:,.0f}, "
                f"{intake['other']:,.0f}) | {row['offered_states_per_s']:,.0f} "
                f"| {p['cpu_percent']:.0f} % | {p['rss_mib']:.0f} MiB |"
            )
        if row["failed"] or row["closed_during"] or row["errors"]:
            print(
                f"clients: {row['failed']} failed to connect, {row['closed_during']} closed "
                f"early; {row['errors']}"
            )
        if row["mode"] == "shown" and not args.floor:
            print(
                f"\nIssue 26's goals (figure 1), phase {row['mode']} (load average "
                f"{row['loadavg_1min'][0]:.1f} -> {row['loadavg_1min'][1]:.1f} on "
                f"{os.cpu_count()} CPUs):"
            )
            for text, met in goals(row, args):
                print(f"- {'yes' if met else 'NO '}  {text}")


# --- figure 2: the floor -----------------------------------------------------------------


def floor_server_process(
    port: int, frame_template: str, rate: float, go: Any, stop: Any, started: Any
) -> None:
    """websockets' asyncio server: greet each client with a frame, then broadcast one frame,
    built once per tick, to every connection rate times a second while `go` is set."""
    from websockets.asyncio.server import broadcast, serve

    async def handler(connection: Any) -> None:
        await connection.send('{"type":"snapshot","part":1,"parts":1,"operations":[]}')
        await connection.wait_closed()

    async def main() -> None:
        async with serve(
            handler, "127.0.0.1", port, compression=None, max_size=2**20, backlog=1024
        ) as server:
            started.set()
            seq, next_at = 10, time.monotonic()
            while not stop.is_set():
                if go.is_set():
                    seq += 1
                    frame = frame_template % {"seq": seq, "item": seq, "sent": time.time()}
                    broadcast(server.connections, frame)
                    next_at += 1.0 / rate
                else:
                    next_at = time.monotonic() + 0.05
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    asyncio.run(main())


def floor_phase(
    cookies: list[str], template: str, args: argparse.Namespace, fanout: dict[str, Any]
) -> dict[str, Any]:
    """The same clients, frame, rate and seconds against a websockets.broadcast server."""
    context = multiprocessing.get_context("fork")
    port = free_port()
    go, stop, started = context.Event(), context.Event(), context.Event()
    server = context.Process(
        target=floor_server_process, args=(port, template, args.rate, go, stop, started)
    )
    server.start()
    try:
        if not started.wait(30):
            raise RuntimeError("the websockets.broadcast server did not start")
        url, origin = f"ws://127.0.0.1:{port}/", f"http://127.0.0.1:{port}"
        specs = [(url, f"sessionid={cookies[i]}", origin, None) for i in range(args.dashboards)]
        clients = start_clients(context, specs, args)
        following = wait_ready(clients, args.dashboards)
        go.set()
        time.sleep(1.0)
        window = measure_window(
            clients,
            args.seconds,
            {"server": [server.pid], "clients": [p.pid for p in clients["processes"]]},
        )
        go.clear()
        stats = collect(clients)
    finally:
        stop.set()
        server.join(10)
        if server.is_alive():
            server.kill()
    seconds = window["elapsed"]
    cpu = window["cpu_s"]["server"][0]
    staleness = stats["staleness"] or [float("nan")]
    return {
        "mode": "websockets.broadcast",
        "seconds": seconds,
        "dashboards": args.dashboards,
        "following": following,
        "failed": stats["failed"],
        "frames": stats["frames"],
        "state_frame_bytes": stats["state_bytes"] / max(1, stats["state_frames"]),
        "staleness_p50_ms": 1000 * percentile(staleness, 50),
        "staleness_p99_ms": 1000 * percentile(staleness, 99),
        "server_cpu_percent": 100 * cpu / seconds,
        "cpu_us_per_frame": 1e6 * cpu / max(1, stats["frames"]),
        "client_cpu_percent": [100 * c / seconds for c in window["cpu_s"]["clients"]],
        "same_frame_bytes_as_fanout": round(fanout["state_frame_bytes"]),
    }


def print_floor(fanout: dict[str, Any], floor: dict[str, Any], args: argparse.Namespace) -> None:
    ratio = fanout["cpu_us_per_frame"] / floor["cpu_us_per_frame"]
    print(
        f"\nFigure 2: one run at {args.rate:g} Hz to {args.dashboards} clients, "
        f"{args.seconds:g} s each; CPU of the serving process per message the clients counted"
    )
    print(
        "| server | clients (following) | messages delivered (per s) | frame bytes "
        "| staleness p50 / p99 | server CPU | µs per delivered message | clients CPU |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, row, cpu in (
        ("daphne, ?view=shown fan-out", fanout, fanout["daphne_cpu_percent"]),
        ("websockets.broadcast (floor)", floor, floor["server_cpu_percent"]),
    ):
        clients = " + ".join(f"{c:.0f}" for c in row["client_cpu_percent"])
        print(
            f"| {name} | {row['dashboards']} ({row['following']}) "
            f"| {row['frames']:,} ({row['frames'] / row['seconds']:,.0f}) "
            f"| {row['state_frame_bytes']:.0f} "
            f"| {row['staleness_p50_ms']:.0f} / {row['staleness_p99_ms']:.0f} ms "
            f"| {cpu:.0f} % | {row['cpu_us_per_frame']:.1f} | {clients} % |"
        )
    met = ratio <= GOAL_FLOOR_RATIO
    print(
        f"- {'yes' if met else 'NO '}  daphne per delivered message <= "
        f"{GOAL_FLOOR_RATIO:g}x the floor measured in this run: {ratio:.2f}x"
    )


def main() -> None:
    args = parse_args()
    for key, value in bench_env().items():
        os.environ.setdefault(key, value)
    ensure_database(os.environ["DATABASE_URL"])
    setup_django()
    # Staff users with at most 10 dashboards each (MAX_SOCKETS_PER_USER is 20 per user).
    cookies = staff_sessions(args.dashboards, users=max(1, -(-args.dashboards // 10)))
    run_ids, owner = create_runs(args.runs, "bench-staff-0")
    templates = state_templates(run_ids)
    channels = group_channels(run_ids, owner)
    RESULTS_DIR.mkdir(exist_ok=True)
    servers = [
        Daphne(log_path=RESULTS_DIR / f"bench_shown-daphne-{i}.log") for i in range(args.servers)
    ]
    try:
        results = [
            phase(servers, cookies, mode, run_ids, owner, templates, channels, args)
            for mode in args.phases
        ]
    finally:
        for server in servers:
            server.stop()
    print_phases(results, args)
    output: dict[str, Any] = {
        "args": {key: str(value) for key, value in vars(args).items()},
        "results": results,
    }
    if args.floor:
        floor = floor_phase(cookies, templates[run_ids[0]], args, results[0])
        print_floor(results[0], floor, args)
        output["floor"] = floor
        output["floor_ratio"] = results[0]["cpu_us_per_frame"] / floor["cpu_us_per_frame"]
    if args.json:
        args.json.write_text(json.dumps(output, indent=2))


if __name__ == "__main__":
    main()
