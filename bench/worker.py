"""A pipeline process for the latency and fan-out figures (run by suite.py, not by hand).

    python bench/worker.py latency --updates 200 --hz 20 [--unforced]
    python bench/worker.py fanout --runs 10 --hz 10 --seconds 12

It sets Django up against the bench database, creates its run(s) and prints
`RUNS <id,id,...>`, then waits for a line on stdin before it starts updating. Every
update carries its send time (time.time()) in current_operation as `t=<seconds>`, so a
receiver computes latency from the frame alone. At the end it completes every run, waits
until the final states are written and published, prints `DONE <json>` and exits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from common import setup_django


def owner():
    from django.contrib.auth.models import User

    user, _ = User.objects.get_or_create(username="bench-owner")
    return user


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["latency", "fanout"])
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--hz", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--unforced", action="store_true", help="update() without force")
    parser.add_argument(
        "--trace", action="store_true", help="also record when each update was published"
    )
    args = parser.parse_args()
    setup_django()
    if "serializer" in os.environ.get("BENCH_WHATIF", ""):
        import whatif

        whatif.cache_serializer_fields()

    from progress.publish.publisher import get_publisher
    from progress.tracker import ProgressTracker

    # Count what the publisher really sends (the writer and publisher keep only the newest
    # state per run, so under load fewer states are sent than update() calls were made).
    publisher = get_publisher()
    sent_count = [0]
    send_all = publisher._send_all

    async def counting_send_all(batch):
        failed = await send_all(batch)
        sent_count[0] += len(batch) - len(failed)
        return failed

    publisher._send_all = counting_send_all
    user = owner()
    runs = args.runs if args.mode == "fanout" else 1
    total = int(args.hz * args.seconds) + 10 if args.mode == "fanout" else args.updates
    trackers = []
    for _ in range(runs):
        tracker = ProgressTracker.create(f"bench_{args.mode}", user=user, total_items=total)
        tracker.start(total_items=total)
        trackers.append(tracker)
    print("RUNS " + ",".join(str(t.id) for t in trackers), flush=True)
    published_before = sent_count[0]
    sys.stdin.readline()  # go

    force = not args.unforced
    published_count = None
    sent = []
    published = []
    last_sent = get_publisher().last_sent
    if args.mode == "latency":
        period = 1.0 / args.hz
        t0 = time.monotonic()
        for i in range(1, args.updates + 1):
            now = time.time()
            trackers[0].update(current_item=i, operation=f"t={now:.6f}", force=force)
            sent.append((i, now))
            if args.trace:
                # Until the publisher has sent this state to every group (or the next tick).
                tracker, tick = trackers[0], t0 + i * period
                while last_sent.get(tracker.id, -1) < tracker.seq and time.monotonic() < tick:
                    time.sleep(0.0002)
                if last_sent.get(tracker.id, -1) >= tracker.seq:
                    published.append(time.time() - now)
            delay = t0 + i * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    else:
        # Round robin: every 1/(runs*hz) s the next run gets its next forced update.
        period = 1.0 / (args.hz * runs)
        t0 = time.monotonic()
        deadline = t0 + args.seconds
        k = 0
        while time.monotonic() < deadline:
            tracker = trackers[k % runs]
            item = k // runs + 1
            tracker.update(current_item=item, operation=f"t={time.time():.6f}", force=force)
            k += 1
            delay = t0 + k * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sent.append((k, time.monotonic() - t0))
        published_count = sent_count[0] - published_before
    for tracker in trackers:
        tracker.complete()
    flushed = get_publisher().flush(10)
    result = {
        "sent": sent,
        "published": published,
        "published_count": published_count,
        "flushed": flushed,
    }
    print("DONE " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
