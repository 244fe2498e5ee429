"""A dashboard's traffic: every visible run (ws/progress/) against the runs it shows
(ws/progress/?view=shown), with many runs active (issue 26, figure 1 at this machine's scale).

    .venv/bin/python bench/bench_shown.py [--runs 2000] [--rate 1] [--shown 20]
        [--dashboards 200] [--servers 1] [--seconds 10] [--json out.json]

Real daphnes (`--servers`, each its own process) serve the project on PostgreSQL and Redis
(bench/common.py's environment). `--runs` runs exist in the table. A producer process
publishes each run's state `--rate` times a second through the Redis channel layer
to the groups the writer would use (all runs, the run's own, its owner's), each state
stamped with the time it was sent: a simulation of many workers' writers, without their
database writes (those cost what `DB_INTERVAL` says, one UPDATE per run per second at most,
and are not what this figure is about).

Phase "all": one staff socket on ws/progress/ (the firehose), counted. Phase "shown":
`--dashboards` staff sockets spread over the servers (and `--client-processes`), each
showing `--shown` runs (its own window of the runs, as pages of different users would) with
the list page's filters.
Reported per phase: run states and frames per second per dashboard, KiB/s, staleness of
the states a dashboard received (sent → read, p50/p99), the daphnes' CPU (total, and per
delivered frame), their RSS, and the Redis subscriptions to run groups and to the all-runs
group (PUBSUB NUMSUB: what the serving processes take in from Redis).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_cancel import ensure_database  # noqa: E402
from common import (  # noqa: E402
    RESULTS_DIR,
    Daphne,
    bench_env,
    percentile,
    setup_django,
    staff_sessions,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=1.0, help="states per run per second")
    parser.add_argument("--shown", type=int, default=20, help="runs each dashboard shows")
    parser.add_argument("--dashboards", type=int, default=200)
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--json", type=Path)
    return parser.parse_args()


def create_runs(count: int, username: str) -> tuple[list[int], int]:
    from django.contrib.auth.models import User

    from progress.models import OperationProgress, Status

    user = User.objects.get(username=username)
    OperationProgress.objects.filter(operation_name="bench_shown").delete()
    runs = OperationProgress.objects.bulk_create(
        OperationProgress(operation_name="bench_shown", status=Status.RUNNING, created_by=user)
        for _ in range(count)
    )
    return [run.pk for run in runs], user.pk


async def produce(run_ids: list[int], owner: int, rate: float, stop: Any, sent: Any) -> None:
    """Each run's state rate times a second, spread evenly, to its groups, stamped."""
    from channels.layers import get_channel_layer

    from progress import protocol
    from progress.publish.visibility import run_groups

    layer = get_channel_layer()
    seqs = dict.fromkeys(run_ids, 10)
    # Ten slices a second, each sending its share of the runs at once (pipelined in Redis).
    slices = 10
    share = max(1, round(len(run_ids) * rate / slices))
    position = 0
    next_at = time.monotonic()
    while not stop.is_set():
        sends = []
        for _ in range(share):
            pk = run_ids[position % len(run_ids)]
            position += 1
            seqs[pk] += 1
            run = {
                "id": pk,
                "seq": seqs[pk],
                "status": "running",
                "current_item": seqs[pk],
                "sent_at": time.time(),
            }
            text = protocol.event_frame("running", json.dumps(run, separators=(",", ":")))
            message = {
                "type": protocol.LAYER_EVENT,
                "id": pk,
                "seq": seqs[pk],
                "final": False,
                "text": text,
            }
            sends += [layer.group_send(group, message) for group in run_groups(pk, owner)]
        await asyncio.gather(*sends)
        sent.value += share
        next_at += 1.0 / slices
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def producer_process(run_ids: list[int], owner: int, rate: float, stop: Any, sent: Any) -> None:
    """The producer in its own process, so the clients do not slow it down."""
    asyncio.run(produce(run_ids, owner, rate, stop, sent))


def clients_process(specs: list[tuple], measuring: Any, stop: Any, results: Any) -> None:
    """Some of the dashboards in one process; their counts go to results when stopped."""

    async def main() -> dict:
        stats = {"frames": 0, "states": 0, "bytes": 0, "summaries": 0, "staleness": []}
        tasks = []
        for index, spec in enumerate(specs):
            tasks.append(asyncio.create_task(dashboard(*spec, stats, measuring, stop)))
            if index % 50 == 49:
                await asyncio.sleep(0.2)  # not a storm: dashboards open over a few seconds
        await asyncio.gather(*tasks, return_exceptions=True)
        return stats

    results.put(asyncio.run(main()))


async def dashboard(
    url: str, cookie: str, origin: str, show: dict | None, stats: dict, measuring: Any, stop: Any
) -> None:
    from websockets.asyncio.client import connect

    async with connect(
        url,
        additional_headers={"Cookie": cookie, "Origin": origin},
        max_size=2**22,
        compression=None,
    ) as ws:
        if show is not None:
            await ws.send(json.dumps(show))
        while not stop.is_set():
            try:
                text = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            if not measuring.is_set():
                continue
            now = time.time()
            message = json.loads(text)
            stats["frames"] += 1
            stats["bytes"] += len(text)
            events = message["events"] if message.get("type") == "batch" else [message]
            for event in events:
                data = event.get("data")
                if data is not None:
                    stats["states"] += 1
                    if "sent_at" in data:
                        stats["staleness"].append(now - data["sent_at"])
            if message.get("type") == "summary":
                stats["summaries"] += 1


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


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


def phase(
    servers: list[Daphne], cookies: list[str], mode: str, run_ids: list[int], owner: int, args
) -> dict:
    """One mode: the producer and the dashboards (in --client-processes) for --seconds."""
    dashboards = 1 if mode == "all" else args.dashboards
    specs = []
    for i in range(dashboards):
        server = servers[i % len(servers)]
        show = None
        url = server.ws_url
        if mode == "shown":
            start = (i * args.shown) % max(1, len(run_ids) - args.shown)
            window = run_ids[start : start + args.shown]
            filters = {"status": "", "q": "", "failures": False}
            show = {"type": "show", "runs": window, "filters": filters, "since": max(run_ids)}
            url += "?view=shown"
        specs.append((url, f"sessionid={cookies[i]}", server.origin, show))
    from django.db import connections

    connections.close_all()  # forked children must not share the parent's connection
    context = multiprocessing.get_context("fork")
    measuring, stop, producing = context.Event(), context.Event(), context.Event()
    sent = context.Value("q", 0)
    results = context.Queue()
    producer = context.Process(
        target=producer_process, args=(run_ids, owner, args.rate, producing, sent)
    )
    producer.start()
    count = min(args.client_processes, dashboards)
    clients = [
        context.Process(target=clients_process, args=(specs[i::count], measuring, stop, results))
        for i in range(count)
    ]
    for client in clients:
        client.start()
    time.sleep(3.0 + dashboards / 250)
    subscriptions = redis_subscriptions(run_ids)
    cpu_before = sum(cpu_seconds(s.pid) for s in servers)
    sent_before = sent.value
    measuring.set()
    time.sleep(args.seconds)
    measuring.clear()
    cpu = sum(cpu_seconds(s.pid) for s in servers) - cpu_before
    offered = (sent.value - sent_before) / args.seconds
    rss = [rss_mib(s.pid) for s in servers]
    stop.set()
    producing.set()
    parts = [results.get(timeout=60) for _ in clients]
    for process in (producer, *clients):
        process.join(30)
    stats = {
        key: sum(part[key] for part in parts) for key in ("frames", "states", "bytes", "summaries")
    }
    staleness = [value for part in parts for value in part["staleness"]] or [float("nan")]
    per = args.seconds * dashboards
    return {
        "mode": mode,
        "servers": len(servers),
        "dashboards": dashboards,
        "offered_states_per_s": offered,
        "states_per_s": stats["states"] / per,
        "frames_per_s": stats["frames"] / per,
        "kib_per_s": stats["bytes"] / 1024 / per,
        "summaries_per_s": stats["summaries"] / per,
        "staleness_p50_ms": 1000 * percentile(staleness, 50),
        "staleness_p99_ms": 1000 * percentile(staleness, 99),
        "daphne_cpu_percent": 100 * cpu / args.seconds,
        "cpu_us_per_frame": 1e6 * cpu / max(1, stats["frames"]),
        "rss_mib": rss,
        "run_group_subscriptions": subscriptions[0],
        "all_group_subscriptions": subscriptions[1],
    }


def main() -> None:
    args = parse_args()
    for key, value in bench_env().items():
        os.environ.setdefault(key, value)
    ensure_database(os.environ["DATABASE_URL"])
    setup_django()
    # Staff users with at most 10 dashboards each (MAX_SOCKETS_PER_USER is 20 per user).
    cookies = staff_sessions(args.dashboards, users=max(1, -(-args.dashboards // 10)))
    run_ids, owner = create_runs(args.runs, "bench-staff-0")
    RESULTS_DIR.mkdir(exist_ok=True)
    servers = [
        Daphne(log_path=RESULTS_DIR / f"bench_shown-daphne-{i}.log") for i in range(args.servers)
    ]
    try:
        results = [phase(servers, cookies, mode, run_ids, owner, args) for mode in ("all", "shown")]
    finally:
        for server in servers:
            server.stop()
    print(
        f"{args.runs} runs at {args.rate:g} Hz, {args.servers} daphne(s), "
        f"{args.shown} runs per shown dashboard, {args.seconds:g} s measured per phase"
    )
    print(
        "| socket | dashboards | states offered/s | states/s per dashboard | frames/s | KiB/s "
        "| staleness p50 / p99 | daphne CPU (µs per frame) | RSS | Redis subs: run groups / all |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in results:
        rss = " + ".join(f"{value:.0f}" for value in row["rss_mib"])
        print(
            f"| {row['mode']} | {row['dashboards']} | {row['offered_states_per_s']:.0f} "
            f"| {row['states_per_s']:.1f} | {row['frames_per_s']:.1f} | {row['kib_per_s']:.1f} "
            f"| {row['staleness_p50_ms']:.0f} / {row['staleness_p99_ms']:.0f} ms "
            f"| {row['daphne_cpu_percent']:.0f} % ({row['cpu_us_per_frame']:.0f} µs) "
            f"| {rss} MiB | {row['run_group_subscriptions']} / {row['all_group_subscriptions']} |"
        )
    if args.json:
        arguments = {key: str(value) for key, value in vars(args).items()}
        args.json.write_text(json.dumps({"args": arguments, "results": results}, indent=2))


if __name__ == "__main__":
    main()
