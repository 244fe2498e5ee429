"""Figures S (connect storm at once), R (restart end to end; R2 with two daphnes) and O
(overload staleness).

Each runs against the app as it is ("after") and against BASELINE_REVISION unpacked from
git ("before", the app before issue 12), in the same suite run, on fresh daphne processes
sharing the bench's Redis and database. Clients log in with distinct sessions (1,000
sessions over 100 staff users: under MAX_SOCKETS_PER_USER, and every connect is a real
session lookup).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from array import array
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
from children import Child
from common import (
    PYTHON,
    Daphne,
    baseline_source,
    fmt_seconds,
    percentile,
    reset_channel_layer,
)
from figs_ws import LOG_DIR, TMP_DIR, _ask_all, _dirs, _merge_errors, _seed_snapshot, _unseed

# The app before issue 12 (reconnect storms and overload).
BASELINE_REVISION = os.environ.get("BENCH_BASELINE_REVISION", "b2947a0")


def _clients(
    daphnes: list[Daphne], sessions: Path, n: int, *, per_daphne: int, concurrency: int, **kw: Any
) -> list[Child]:
    """n clients spread evenly over daphnes, `per_daphne` client processes each."""
    children, offset = [], 0
    procs = [(d, i) for d in daphnes for i in range(per_daphne)]
    for k, (daphne, _) in enumerate(procs):
        count = n // len(procs) + (1 if k < n % len(procs) else 0)
        args = [
            "--url",
            daphne.ws_url,
            "--origin",
            daphne.origin,
            "--session",
            "unused",
            "--sessions-file",
            str(sessions),
            "--offset",
            str(offset),
            "--n",
            str(count),
            "--concurrency",
            str(max(1, concurrency // len(procs))),
        ]
        if kw.get("reconnect"):
            args.append("--reconnect")
        children.append(Child("wsclient.py", args, log_path=LOG_DIR / f"wsclient-s{k}.log"))
        offset += count
    return children


def _daphnes(count: int, source: Path | None, tag: str, **kw: Any) -> list[Daphne]:
    return [
        Daphne(log_path=LOG_DIR / f"daphne-{tag}-{i}.log", source=source, **kw)
        for i in range(count)
    ]


def _cpu(procs: list[psutil.Process]) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in procs)


def _warm(daphnes: list[Daphne], sessions: Path) -> None:
    warm = _clients(daphnes, sessions, 5 * len(daphnes), per_daphne=1, concurrency=5)
    try:
        _ask_all(warm, "connect", 60)
        _ask_all(warm, "close", 30)
    finally:
        for child in warm:
            child.stop()


def _worker(runs: int, hz: float, seconds: float, tag: str) -> tuple[Child, list[int]]:
    """Runs updated round robin at hz each: unforced, every update() broadcast
    (BROADCAST_INTERVAL=0), the database written once per DB_INTERVAL. Forced updates
    would each wait for a committed UPDATE in the writer thread, which caps one worker at
    about 100 states/s here: a producer limit, not the server's (figure 4 measures it)."""
    worker = Child(
        "worker.py",
        ["fanout", "--runs", str(runs), "--hz", str(hz), "--seconds", str(seconds), "--unforced"],
        log_path=LOG_DIR / f"worker-{tag}.log",
        PROGRESS_BROADCAST_INTERVAL="0",
    )
    ids = [int(x) for x in worker.expect("RUNS", 60).split(",")]
    worker.send("go")
    return worker, ids


def _profile(daphne: Daphne, tag: str) -> subprocess.Popen | None:
    """py-spy on daphne (BENCH_PYSPY=1): collapsed stacks in bench/results/logs/."""
    if not os.environ.get("BENCH_PYSPY"):
        return None
    spy = Path(PYTHON).with_name("py-spy")
    out = LOG_DIR / f"pyspy-{tag}.txt"
    proc = subprocess.Popen(
        [str(spy), "record", "-p", str(daphne.pid), "-r", "250", "-f", "raw", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)
    return proc


def storm(
    sessions: Path,
    n: int,
    *,
    source: Path | None,
    daphnes: int = 1,
    updating: int = 0,
    **daphne_kw: Any,
) -> dict[str, Any]:
    """n clients open ws/progress/ at once (no pacing): until all hold a snapshot."""
    _dirs()
    seeded = _seed_snapshot()
    servers = _daphnes(daphnes, source, "storm", **daphne_kw)
    worker = None
    try:
        _warm(servers, sessions)
        if updating:
            worker, _ = _worker(updating, 10, 60, "storm")
            time.sleep(1)
        procs = [psutil.Process(d.pid) for d in servers]
        q0 = sum(d.stats()["queries"] for d in servers)
        rss0 = [p.memory_info().rss for p in procs]
        clients = _clients(servers, sessions, n, per_daphne=2, concurrency=n)
        spy = _profile(servers[0], f"storm-{'before' if source else 'after'}-{updating}")
        try:
            cpu0 = _cpu(procs)
            connected = _ask_all(clients, "connect", 240)
            cpu1 = _cpu(procs)
            if spy is not None:
                spy.send_signal(2)
                spy.wait(30)
            q1 = sum(d.stats()["queries"] for d in servers)
            rss1 = [p.memory_info().rss for p in procs]
            _ask_all(clients, "close", 60)
        finally:
            for child in clients:
                child.stop()
    finally:
        if worker is not None:
            worker.stop(2)
        for d in servers:
            d.stop()
        _unseed(seeded)
        reset_channel_layer()
    ok = sum(c["ok"] for c in connected)
    start = min(c["start"] for c in connected)
    last = max(c["last_snapshot_at"] or start for c in connected)
    per_client = [t + c["start"] - start for c in connected for t in c["snapshot_times"]]
    return {
        "clients": n,
        "daphnes": daphnes,
        "updating_runs": updating,
        "connected": ok,
        "failed_attempts": sum(c["retries"] for c in connected),
        "errors": _merge_errors(connected),
        "all_snapshots_s": last - start,
        "per_client_snapshot_s": {
            "p50": percentile(per_client, 50),
            "p99": percentile(per_client, 99),
        },
        "daphne_cpu_s": cpu1 - cpu0,
        "daphne_cpu_per_connect_s": (cpu1 - cpu0) / ok if ok else float("nan"),
        "queries": q1 - q0,
        "queries_per_connect": (q1 - q0) / ok if ok else float("nan"),
        "rss_growth_bytes": [b - a for a, b in zip(rss0, rss1, strict=True)],
    }


def restart(sessions: Path, n: int, *, source: Path | None, daphnes: int = 1) -> dict[str, Any]:
    """n reconnecting clients spread over `daphnes` daphnes; SIGKILL every one, start new
    ones on the same ports (at the same time): until every client holds a snapshot again."""
    _dirs()
    seeded = _seed_snapshot()
    first = _daphnes(daphnes, source, "restart")
    second: list[Daphne] = []
    try:
        _warm(first, sessions)
        clients = _clients(first, sessions, n, per_daphne=2, concurrency=200, reconnect=True)
        try:
            connected = _ask_all(clients, "connect", 240)
            time.sleep(1)
            killed_at = time.time()
            for daphne in first:
                daphne.kill()
            second = _restarted(first, source)
            up_at = time.time()
            back = _ask_all(clients, "restarts 90", 120)
            _ask_all(clients, "close", 60)
        finally:
            for child in clients:
                child.stop()
    finally:
        for daphne in first + second:
            daphne.stop()
        _unseed(seeded)
        reset_channel_layer()
    times = sorted(t for b in back for t in b["times"])
    returned = len(times)
    return {
        "clients": n,
        "daphnes": daphnes,
        "connected_before": sum(c["ok"] for c in connected),
        "back": returned,
        "kill_to_all_back_s": (times[-1] - killed_at) if times else float("nan"),
        "server_up_to_all_back_s": (times[-1] - up_at) if times else float("nan"),
        "kill_to_server_up_s": up_at - killed_at,
        "back_p50_after_up_s": (times[returned // 2] - up_at) if times else float("nan"),
        "failed_attempts": sum(b["failures"] for b in back),
    }


def _restarted(killed: list[Daphne], source: Path | None) -> list[Daphne]:
    """A new daphne on each killed one's port, all started at once (each start waits until
    its daphne answers); up when the last answers."""
    with ThreadPoolExecutor(len(killed)) as pool:
        starting = [
            pool.submit(
                Daphne,
                log_path=LOG_DIR / f"daphne-restart-{len(killed) + i}.log",
                port=daphne.port,
                source=source,
            )
            for i, daphne in enumerate(killed)
        ]
        started, failed = [], None
        for future in starting:
            try:
                started.append(future.result())
            except Exception as exc:
                failed = exc
    if failed is not None:
        for daphne in started:
            daphne.stop()
        raise failed
    return started


def overload(
    sessions: Path,
    n: int,
    *,
    source: Path | None,
    hz: float = 10,
    runs: int = 10,
    daphnes: int = 1,
    window: float = 10,
) -> dict[str, Any]:
    """n clients while `runs` runs get forced updates at hz: staleness, finals, memory."""
    _dirs()
    servers = _daphnes(daphnes, source, "overload")
    procs = [psutil.Process(d.pid) for d in servers]
    worker = None
    clients = _clients(servers, sessions, n, per_daphne=2, concurrency=200)
    try:
        connected = _ask_all(clients, "connect", 240)
        rss_connected = [p.memory_info().rss for p in procs]
        worker, ids = _worker(runs, hz, window + 4, "overload")
        time.sleep(1.5)
        client_procs = [psutil.Process(c.pid) for c in clients]
        cpu0, client_cpu0 = _cpu(procs), _cpu(client_procs)
        starts = _ask_all(clients, "reset", 30)
        ids_json = json.dumps(ids, separators=(",", ":"))
        spy = _profile(servers[0], f"overload-{'before' if source else 'after'}-{hz:g}")
        stale = _ask_all(clients, f"stale {ids_json} {window}", window + 60)
        if spy is not None:
            spy.send_signal(2)
            spy.wait(30)
        paths = [TMP_DIR / f"olat-{i}.bin" for i in range(len(clients))]
        reports = [c.ask(f"report {p}", 30) for c, p in zip(clients, paths, strict=True)]
        cpu1, client_cpu1 = _cpu(procs), _cpu(client_procs)
        rss_peak = [p.memory_info().rss for p in procs]
        worker.expect("DONE", 60)
        finals = _ask_all(clients, f"finals {ids_json} 10", 90)
        _ask_all(clients, "close", 60)
    finally:
        for child in clients:
            child.stop()
        if worker is not None:
            worker.stop()
        for d in servers:
            d.stop()
        reset_channel_layer()
    delivered = array("d")
    for path in paths:
        with path.open("rb") as handle:
            delivered.frombytes(handle.read())
        path.unlink(missing_ok=True)
    delivered_sorted = sorted(delivered)
    elapsed = statistics.fmean(r["t"] for r in reports) - statistics.fmean(s["t"] for s in starts)
    # Staleness: the clients sample it; merge their percentiles weighted by sample count.
    p99 = max((s["p99"] for s in stale if s["p99"] is not None), default=float("nan"))
    p50 = statistics.median(s["p50"] for s in stale if s["p50"] is not None)
    f = {key: sum(x[key] for x in finals) for key in ("clients", "live", "resync", "missing")}
    return {
        "clients": n,
        "daphnes": daphnes,
        "runs": runs,
        "hz": hz,
        "connected": sum(c["ok"] for c in connected),
        "stale_p50_s": p50,
        "stale_p99_s": p99,
        "stale_max_s": max((s["max"] for s in stale if s["max"] is not None), default=None),
        # The newest state any connection of a client process held: late for everyone.
        "upstream_p50_s": statistics.median(
            s["upstream_p50"] for s in stale if s["upstream_p50"] is not None
        ),
        "upstream_p99_s": max(
            (s["upstream_p99"] for s in stale if s["upstream_p99"] is not None),
            default=float("nan"),
        ),
        "stale_samples": sum(s["n"] for s in stale),
        # Producer's send -> the client read the state (the age when it arrived).
        "delivery_p50_s": percentile(delivered_sorted, 50),
        "delivery_p99_s": percentile(delivered_sorted, 99),
        "frames_per_s": sum(r["msgs"] for r in reports) / elapsed,
        "states_per_s": sum(r["n_lat"] for r in reports) / elapsed,
        "daphne_cpu_util": (cpu1 - cpu0) / elapsed,
        "client_cpu_util": (client_cpu1 - client_cpu0) / elapsed,
        "rss_connected_mib": [r / 2**20 for r in rss_connected],
        "rss_peak_mib": [r / 2**20 for r in rss_peak],
        "finals": f,
    }


def _storm_row(rid: str, title: str, after: dict, before: dict | None) -> dict[str, Any]:
    base = (
        f"before: {before['all_snapshots_s']:.2f} s, {before['connected']}/{before['clients']}, "
        f"{before['failed_attempts']} failed attempts, "
        f"{fmt_seconds(before['daphne_cpu_per_connect_s'])} CPU/connect, "
        f"{before['queries']} queries"
        if before
        else ""
    )
    return {
        "id": rid,
        "figure": title,
        "ours": f"{after['all_snapshots_s']:.2f} s, {after['connected']}/{after['clients']}, "
        f"{after['failed_attempts']} failed attempts, "
        f"{fmt_seconds(after['daphne_cpu_per_connect_s'])} CPU/connect, "
        f"{after['queries']} queries",
        "baseline": base,
        "ratio": f"{before['all_snapshots_s'] / after['all_snapshots_s']:.1f}x faster"
        if before
        else "",
        "target": "≤ 2 s, 0 failed, ≤ 1 ms CPU/connect",
        "met": after["all_snapshots_s"] <= 2
        and after["failed_attempts"] == 0
        and after["connected"] == after["clients"]
        and after["daphne_cpu_per_connect_s"] <= 0.001,
        "note": f"per client p50 {fmt_seconds(after['per_client_snapshot_s']['p50'])} "
        f"p99 {fmt_seconds(after['per_client_snapshot_s']['p99'])}; "
        f"{after['queries_per_connect']:.2f} queries/connect; errors {after['errors'] or 'none'}"
        + (f"; before: errors {before['errors'] or 'none'}" if before else ""),
    }


def _overload_row(rid: str, title: str, after: dict, before: dict | None) -> dict[str, Any]:
    def text(r: dict) -> str:
        f = r["finals"]
        return (
            f"staleness p50 {fmt_seconds(r['stale_p50_s'])} p99 {fmt_seconds(r['stale_p99_s'])}, "
            f"finals {f['live']}/{f['clients']} live, RSS "
            f"{'/'.join(f'{m:.0f}' for m in r['rss_peak_mib'])} MiB"
        )

    return {
        "id": rid,
        "figure": title,
        "ours": text(after),
        "baseline": f"before: {text(before)}" if before else "",
        "ratio": f"p99 {before['stale_p99_s'] / after['stale_p99_s']:.1f}x lower" if before else "",
        "target": "p99 ≤ 250 ms, 100 % finals live",
        "met": after["stale_p99_s"] <= 0.25
        and after["finals"]["live"] == after["finals"]["clients"] == after["clients"],
        "note": f"upstream staleness p50 {fmt_seconds(after['upstream_p50_s'])} "
        f"p99 {fmt_seconds(after['upstream_p99_s'])}; "
        f"delivery p50 {fmt_seconds(after['delivery_p50_s'])} "
        f"p99 {fmt_seconds(after['delivery_p99_s'])}; "
        f"{after['frames_per_s']:,.0f} frames/s carrying {after['states_per_s']:,.0f} "
        f"states/s; daphne CPU {after['daphne_cpu_util']:.0%}, "
        f"client processes {after['client_cpu_util']:.0%}; "
        f"RSS connected {'/'.join(f'{m:.0f}' for m in after['rss_connected_mib'])} MiB; "
        f"finals {after['finals']}"
        + (
            f"; before: {before['frames_per_s']:,.0f} frames/s, finals {before['finals']}"
            if before
            else ""
        ),
    }


def _restart_two_row(n: int, r2: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "R2",
        "figure": f"restart: {n} clients over two daphnes on client.js's backoff; SIGKILL both, "
        "new daphnes on the same ports",
        "ours": f"kill → all back {r2['kill_to_all_back_s']:.2f} s (servers up → all back "
        f"{r2['server_up_to_all_back_s']:.2f} s), {r2['back']}/{n}",
        "baseline": "",
        "ratio": "",
        "target": "(measured)",
        "met": None,
        "note": f"both daphnes started {r2['kill_to_server_up_s']:.2f} s after the kill; p50 back "
        f"{r2['back_p50_after_up_s']:.2f} s after up; failed attempts {r2['failed_attempts']}; "
        f"{r2['connected_before']}/{n} connected before",
    }


def fig_restarts(sessions: Path, *, n: int = 1000) -> dict[str, Any]:
    """R2 alone (`--only R2`): the restart with two daphnes, after only."""
    raw = {"R2_after": restart(sessions, n, source=None, daphnes=2)}
    return {"rows": [_restart_two_row(n, raw["R2_after"])], "raw": raw}


def fig_storm_pairs(sessions: Path, *, n: int = 1000, pairs: int = 4) -> dict[str, Any]:
    """SP (`--only SP`): S1 and S2 as `pairs` alternating after/before storms, medians.

    One storm's CPU per connect varies by 10-20 % between runs on this machine (other
    processes, timer luck); alternating pairs and taking medians tells a real change of a
    few percent from noise (issue 25: "the budgets cost nothing measurable on the storm").
    """
    source = baseline_source(BASELINE_REVISION)
    raw: dict[str, Any] = {"baseline_revision": BASELINE_REVISION}
    rows = []
    for rid, updating in (("SP1", 0), ("SP2", 4)):
        after, before = [], []
        for _ in range(pairs):
            after.append(storm(sessions, n, source=None, updating=updating))
            before.append(storm(sessions, n, source=source, updating=updating))
        raw[f"{rid}_after"], raw[f"{rid}_before"] = after, before

        def cpu(results: list[dict[str, Any]]) -> str:
            values = sorted(1e3 * r["daphne_cpu_per_connect_s"] for r in results)
            return (
                f"median {statistics.median(values):.3f} ms ({values[0]:.3f} to {values[-1]:.3f})"
            )

        def wall(results: list[dict[str, Any]]) -> float:
            return statistics.median(r["all_snapshots_s"] for r in results)

        rows.append(
            {
                "id": rid,
                "figure": f"connect storm: {n} at once, {updating} runs updating, "
                f"{pairs} alternating pairs",
                "ours": f"CPU/connect {cpu(after)}, all snapshots {wall(after):.2f} s",
                "baseline": f"before: {cpu(before)}, {wall(before):.2f} s",
                "ratio": "",
                "target": "(measured)",
                "met": None,
                "note": f"queries median {statistics.median(r['queries'] for r in after):.0f} "
                f"(before {statistics.median(r['queries'] for r in before):.0f})",
            }
        )
    return {"rows": rows, "raw": raw}


def fig_storms(sessions: Path, *, n: int = 1000, quick: bool = False) -> dict[str, Any]:
    """S, R, O: after and before (the baseline revision) in this run, plus two daphnes."""
    source = baseline_source(BASELINE_REVISION)
    raw: dict[str, Any] = {"baseline_revision": BASELINE_REVISION}
    rows = []
    raw["S_after"] = storm(sessions, n, source=None)
    raw["S_before"] = storm(sessions, n, source=source)
    rows.append(
        _storm_row("S1", f"connect storm: {n} at once, one daphne", raw["S_after"], raw["S_before"])
    )
    raw["S4_after"] = storm(sessions, n, source=None, updating=4)
    raw["S4_before"] = storm(sessions, n, source=source, updating=4)
    rows.append(
        _storm_row(
            "S2",
            f"connect storm: {n} at once while 4 runs update at 10 Hz",
            raw["S4_after"],
            raw["S4_before"],
        )
    )
    raw["S_two"] = storm(sessions, n, source=None, daphnes=2)
    rows.append(_storm_row("S3", f"connect storm: {n} at once, two daphnes", raw["S_two"], None))
    raw["R_after"] = restart(sessions, n, source=None)
    raw["R_before"] = restart(sessions, n, source=source)
    ra, rb = raw["R_after"], raw["R_before"]
    rows.append(
        {
            "id": "R",
            "figure": f"restart: {n} clients on client.js's backoff; SIGKILL, new daphne",
            "ours": f"kill → all back {ra['kill_to_all_back_s']:.2f} s (server up → all back "
            f"{ra['server_up_to_all_back_s']:.2f} s), {ra['back']}/{n}",
            "baseline": f"before: {rb['kill_to_all_back_s']:.2f} s "
            f"({rb['server_up_to_all_back_s']:.2f} s), {rb['back']}/{n}",
            "ratio": "",
            "target": "(measured)",
            "met": None,
            "note": f"daphne start {ra['kill_to_server_up_s']:.2f} s; p50 back "
            f"{ra['back_p50_after_up_s']:.2f} s after up; failed attempts "
            f"{ra['failed_attempts']} (before {rb['failed_attempts']})",
        }
    )
    raw["R2_after"] = restart(sessions, n, source=None, daphnes=2)
    rows.append(_restart_two_row(n, raw["R2_after"]))
    for hz, rid in ((10, "O1"), (20, "O2")):
        after = overload(sessions, n, source=None, hz=hz, window=5 if quick else 10)
        before = overload(sessions, n, source=source, hz=hz, window=5 if quick else 10)
        raw[f"{rid}_after"], raw[f"{rid}_before"] = after, before
        rows.append(_overload_row(rid, f"overload: {n} clients x 10 runs x {hz} Hz", after, before))
    raw["O_two"] = overload(sessions, n, source=None, daphnes=2, window=5 if quick else 10)
    rows.append(
        _overload_row(
            "O3", f"overload: {n} clients x 10 runs x 10 Hz, two daphnes", raw["O_two"], None
        )
    )
    return {"rows": rows, "raw": raw}


def fig_overload(
    sessions: Path,
    *,
    n: int = 1000,
    quick: bool = False,
    before: bool = False,
    rates: tuple[int, ...] = (10, 20),
    two: bool = True,
) -> dict[str, Any]:
    """O alone (`--only O`; `--only O1`: 10 Hz, one daphne): after, and before with `before`."""
    source = baseline_source(BASELINE_REVISION) if before else None
    raw: dict[str, Any] = {"baseline_revision": BASELINE_REVISION if before else None}
    rows = []
    window = 5 if quick else 10
    for hz, rid in ((10, "O1"), (20, "O2")):
        if hz not in rates:
            continue
        after = overload(sessions, n, source=None, hz=hz, window=window)
        old = overload(sessions, n, source=source, hz=hz, window=window) if source else None
        raw[f"{rid}_after"], raw[f"{rid}_before"] = after, old
        rows.append(_overload_row(rid, f"overload: {n} clients x 10 runs x {hz} Hz", after, old))
    if two:
        raw["O_two"] = overload(sessions, n, source=None, daphnes=2, window=window)
        rows.append(
            _overload_row(
                "O3", f"overload: {n} clients x 10 runs x 10 Hz, two daphnes", raw["O_two"], None
            )
        )
    return {"rows": rows, "raw": raw}


LEVERS: list[tuple[str, dict[str, Any]]] = [
    ("all levers (the app as it is)", {}),
    ("listen backlog 50 (Twisted's default)", {"backlog": 50}),
    ("no snapshot sharing", {"PROGRESS_SNAPSHOT_SHARE_SECONDS": "0"}),
    ("Channels' AuthMiddlewareStack", {"BENCH_WHATIF": "channels-auth"}),
    ("thread hop before websocket.connect", {"BENCH_WHATIF": "connect-hop"}),
    ("Redis SUBSCRIBE per connection", {"BENCH_WHATIF": "subscribe-channel"}),
    ("autobahn's eager debug formatting", {"BENCH_WHATIF": "autobahn-debug"}),
]


def fig_levers(sessions: Path, *, n: int = 1000, repeats: int = 2) -> dict[str, Any]:
    """Figure L: the storm with one lever undone at a time (alternating, repeated)."""
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in LEVERS}
    for _ in range(repeats):
        for name, kw in LEVERS:
            results[name].append(storm(sessions, n, source=None, **kw))
    rows = []
    for i, (name, _) in enumerate(LEVERS):
        runs = results[name]
        secs = sorted(r["all_snapshots_s"] for r in runs)
        cpu = sorted(r["daphne_cpu_per_connect_s"] for r in runs)
        rows.append(
            {
                "id": f"L{i}",
                "figure": f"lever: storm of {n} at once with {name}",
                "ours": f"{' / '.join(f'{s:.2f} s' for s in secs)}; "
                f"{' / '.join(fmt_seconds(c) for c in cpu)} CPU/connect",
                "baseline": f"failed attempts {[r['failed_attempts'] for r in runs]}, "
                f"queries {[r['queries'] for r in runs]}",
                "ratio": "",
                "target": "(lever)",
                "met": None,
            }
        )
    return {"rows": rows, "raw": results}
