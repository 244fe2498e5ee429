"""A dashboard's traffic: every visible run (ws/progress/) against the runs it shows
(ws/progress/?view=shown), while many runs update (issue 26).

    .venv/bin/python bench/bench_shown.py [--runs 200] [--rate 2] [--shown 20] [--seconds 10]
                                          [--dashboards 1] [--json out.json]

A real daphne serves the project on PostgreSQL and Redis (the bench environment of
bench/common.py). This process runs `--runs` tracked runs and updates each `--rate` times a
second (update(force=True), through the writer, publisher and Redis as in production).
Then, one phase per mode, `--dashboards` staff sockets connect as the list page does: the
all-runs socket, or the shown socket naming `--shown` runs with the page's filters. For
`--seconds` each phase counts what the sockets receive (frames, run states, bytes), daphne's
CPU, and the Redis pub/sub channels subscribed (PUBSUB NUMSUB of every run group and the
all-runs group: what the serving process takes in from Redis).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_cancel import ensure_database  # noqa: E402
from common import RESULTS_DIR, Daphne, bench_env, setup_django, staff_session  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rate", type=float, default=2.0, help="updates per run per second")
    parser.add_argument("--shown", type=int, default=20, help="runs a shown socket names")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--dashboards", type=int, default=1)
    parser.add_argument("--json", type=Path)
    return parser.parse_args()


class Producer(threading.Thread):
    """Runs that update rate times a second each until stopped, then complete."""

    def __init__(self, run_ids: list[int], rate: float) -> None:
        super().__init__(daemon=True)
        self.run_ids = run_ids
        self.rate = rate
        self.stop = threading.Event()
        self.updates = 0

    def run(self) -> None:
        from progress.tracker import track_operation

        with contextlib.ExitStack() as stack:
            trackers = [
                stack.enter_context(
                    track_operation("bench_shown", operation_id=pk, total_items=10**9)
                )
                for pk in self.run_ids
            ]
            tick = 1.0 / self.rate
            item = 0
            next_at = time.monotonic()
            while not self.stop.is_set():
                item += 1
                for tracker in trackers:
                    tracker.update(current_item=item, force=True)
                    self.updates += 1
                next_at += tick
                self.stop.wait(max(0.0, next_at - time.monotonic()))


def create_runs(count: int, username: str) -> list[int]:
    from django.contrib.auth.models import User

    from progress.models import OperationProgress, Status

    user = User.objects.get(username=username)
    OperationProgress.objects.filter(operation_name="bench_shown").delete()
    runs = OperationProgress.objects.bulk_create(
        OperationProgress(operation_name="bench_shown", status=Status.QUEUED, created_by=user)
        for _ in range(count)
    )
    return [run.pk for run in runs]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def subscribed_channels(run_ids: list[int]) -> int:
    """Redis pub/sub channels of the run groups and the all-runs group that have a subscriber."""
    import redis

    from progress.layers import BoundedRedisPubSubChannelLayer  # noqa: F401 (the naming rule)

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    prefix = os.environ.get("CHANNEL_PREFIX", "asgi")
    try:
        names = [f"{prefix}__group__progress.op.{pk}" for pk in run_ids]
        names.append(f"{prefix}__group__progress.all")
        counts = client.pubsub_numsub(*names)
        return sum(1 for _name, n in counts if n)
    finally:
        client.close()


async def dashboard(
    url: str, cookie: str, origin: str, show: dict | None, counts: dict, stop: asyncio.Event
) -> None:
    from websockets.asyncio.client import connect

    async with connect(
        url, additional_headers={"Cookie": cookie, "Origin": origin}, max_size=2**22
    ) as ws:
        if show is not None:
            await ws.send(json.dumps(show))
        while not stop.is_set():
            try:
                text = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            if not counts["measuring"]:
                continue
            message = json.loads(text)
            counts["frames"] += 1
            counts["bytes"] += len(text)
            if message.get("type") == "batch":
                counts["states"] += len(message["events"])
            elif "data" in message:
                counts["states"] += 1
            elif message.get("type") == "summary":
                counts["summaries"] += 1


async def phase(
    daphne: Daphne, cookie: str, mode: str, run_ids: list[int], args: argparse.Namespace
) -> dict:
    shown_ids = run_ids[-args.shown :]
    url = daphne.ws_url + ("?view=shown" if mode == "shown" else "")
    show = None
    if mode == "shown":
        filters = {"status": "", "q": "", "failures": False}
        show = {"type": "show", "runs": shown_ids, "filters": filters, "since": max(run_ids)}
    counts = {"measuring": False, "frames": 0, "states": 0, "bytes": 0, "summaries": 0}
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(
            dashboard(url, f"sessionid={cookie}", daphne.origin, show, counts, stop)
        )
        for _ in range(args.dashboards)
    ]
    await asyncio.sleep(2.0)  # connected, snapshot in, subscriptions settled
    channels = await asyncio.to_thread(subscribed_channels, run_ids)
    cpu_before = cpu_seconds(daphne.pid)
    counts["measuring"] = True
    await asyncio.sleep(args.seconds)
    counts["measuring"] = False
    cpu = cpu_seconds(daphne.pid) - cpu_before
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    per_dashboard = args.seconds * args.dashboards
    return {
        "mode": mode,
        "states_per_s": counts["states"] / per_dashboard,
        "frames_per_s": counts["frames"] / per_dashboard,
        "kib_per_s": counts["bytes"] / 1024 / per_dashboard,
        "summaries_per_s": counts["summaries"] / per_dashboard,
        "daphne_cpu_percent": 100 * cpu / args.seconds,
        "redis_channels_subscribed": channels,
    }


def main() -> None:
    args = parse_args()
    for key, value in bench_env().items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/progress_bench")
    ensure_database(os.environ["DATABASE_URL"])
    setup_django()
    cookie = staff_session()
    run_ids = create_runs(args.runs, "bench-staff")
    RESULTS_DIR.mkdir(exist_ok=True)
    daphne = Daphne(log_path=RESULTS_DIR / "bench_shown-daphne.log")
    producer = Producer(run_ids, args.rate)
    producer.start()
    try:
        time.sleep(2.0)
        results = [
            asyncio.run(phase(daphne, cookie, mode, run_ids, args)) for mode in ("all", "shown")
        ]
    finally:
        producer.stop.set()
        producer.join(30)
        daphne.stop()
    offered = args.runs * args.rate
    print(
        f"{args.runs} runs at {args.rate:g} Hz ({offered:g} states/s offered), "
        f"{args.dashboards} dashboard(s), {args.shown} runs shown, {args.seconds:g} s per mode"
    )
    print(
        "| socket | states/s per dashboard | frames/s | KiB/s | summaries/s | daphne CPU "
        "| Redis channels subscribed |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in results:
        print(
            f"| {row['mode']} | {row['states_per_s']:.1f} | {row['frames_per_s']:.1f} | "
            f"{row['kib_per_s']:.1f} | {row['summaries_per_s']:.2f} | "
            f"{row['daphne_cpu_percent']:.0f} % | {row['redis_channels_subscribed']} |"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"args": {k: str(v) for k, v in vars(args).items()}, "results": results}, indent=2
            )
        )


if __name__ == "__main__":
    main()
