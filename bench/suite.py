"""The benchmark suite: every figure against its baseline in the same run.

Run through bench/run.sh (it prepares the venv, the services and the progress_bench
database). Prints a table and writes bench/results/latest.json. Options:

    --only 1,3,5     run only these figures (5 and 7 are measured together; W = what-if;
                     S = storm at once, restart and overload, before/after: bench/figs_storm.py;
                     L = the storm with one of issue 12's levers undone at a time, not by default;
                     R2 = only the restart with two daphnes, which S also runs;
                     SP = S1 and S2 as four alternating after/before pairs, medians)
    --with-2000      add a 2,000-client fan-out step to figure 4
    --quick          smaller sizes, for trying the suite out (numbers not comparable)
    --no-what-if     skip the W rows: fixes the app lacks, monkeypatched in bench processes,
                     and the fan-out with the other channels-redis layer
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from importlib import metadata
from typing import Any

from common import (
    RESULTS_DIR,
    ROOT,
    Daphne,
    reset_channel_layer,
    setup_django,
    staff_session,
    staff_sessions,
)


def machine_info() -> dict[str, Any]:
    import psutil

    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    def command(*argv: str) -> str | None:
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
        except OSError:
            return None

    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    redis_info = command("redis-cli", "-h", "127.0.0.1", "info", "server") or ""
    redis_version = next(
        (line.split(":", 1)[1] for line in redis_info.splitlines() if "redis_version" in line),
        None,
    )
    with open("/proc/cpuinfo") as handle:
        cpuinfo = handle.read().splitlines()
    cpu_model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
        platform.processor(),
    )
    # The app is edited while benchmarks run: identify the code that was measured.
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("progress/*.py")) + sorted(ROOT.glob("curation/*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "app_source_sha256": digest.hexdigest()[:16],
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_at_start": os.getloadavg(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            p: version(p)
            for p in (
                "django",
                "channels",
                "channels-redis",
                "daphne",
                "twisted",
                "autobahn",
                "redis",
                "psycopg",
                "djangorestframework",
                "tqdm",
                "websockets",
                "celery",
                "celery-progress",
                "psutil",
            )
        },
        "postgresql": pg_version,
        "redis_server": redis_version,
        "settings": {
            "DATABASE_URL": os.environ.get("DATABASE_URL"),
            "REDIS_URL": os.environ.get("REDIS_URL"),
            "celery_backend": os.environ.get("BENCH_CELERY_BACKEND"),
            "CHANNEL_LAYERS": settings.CHANNEL_LAYERS["default"]["BACKEND"],
        },
    }


def print_table(rows: list[dict[str, Any]]) -> str:
    headers = ["#", "figure", "ours", "baseline", "ratio", "target", "met?"]
    body = []
    for row in rows:
        met = {True: "yes", False: "NO", None: "-"}[row.get("met")]
        body.append(
            [
                row["id"],
                row["figure"],
                row["ours"],
                row["baseline"],
                row["ratio"],
                row["target"],
                met,
            ]
        )
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in cells) + " |" for cells in body]
    notes = [f"- {row['id']}: {row['note']}" for row in rows if row.get("note")]
    text = "\n".join(lines + (["", *notes] if notes else []))
    print(text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="1,2,3,4,5,6,7,W,S")
    parser.add_argument("--with-2000", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--no-what-if", dest="what_if", action="store_false", help="skip the what-if figures"
    )
    parser.add_argument(
        "--before", action="store_true", help="figure O: also the app before issue 12"
    )
    args = parser.parse_args()
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    if "7" in only:
        only.add("5")
    if not args.what_if:
        only.discard("W")

    setup_django()
    import figs_local
    import figs_ws

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    session = staff_session()
    figs_ws._dirs()
    figs_ws.SESSIONS_FILE.write_text("\n".join(staff_sessions(1000, users=100)))
    results: dict[str, Any] = {"machine": machine_info(), "figures": {}, "rows": []}
    quick = args.quick

    def run(key: str, fn, *a, **kw) -> dict[str, Any] | None:
        import psutil

        t0 = time.monotonic()
        psutil.cpu_percent()
        load0 = os.getloadavg()[0]
        print(f"--- figure {key} ...", file=sys.stderr, flush=True)
        stale_keys = reset_channel_layer()
        try:
            out = fn(*a, **kw)
        except Exception as exc:
            traceback.print_exc()
            out = {
                "rows": [
                    {
                        "id": key,
                        "figure": f"figure {key} FAILED",
                        "ours": f"{type(exc).__name__}: {exc}"[:120],
                        "baseline": "",
                        "ratio": "",
                        "target": "",
                        "met": False,
                    }
                ],
                "raw": {"error": traceback.format_exc()},
            }
        out["seconds"] = round(time.monotonic() - t0, 1)
        out["channel_layer_keys_cleared_before"] = stale_keys
        # How busy the whole machine was (other people's work included) during the figure.
        out["machine_cpu_percent"] = psutil.cpu_percent()
        out["loadavg_1min"] = [load0, os.getloadavg()[0]]
        results["figures"][key] = out
        results["rows"] += out["rows"]
        print(
            f"    figure {key}: {out['seconds']} s, machine CPU {out['machine_cpu_percent']} %",
            file=sys.stderr,
            flush=True,
        )
        return out

    if "1" in only:
        run("1", figs_local.fig1_hot_path, n=200_000 if quick else 1_000_000)
    if "2" in only:
        run("2", figs_local.fig2_publish_cost, calls=50 if quick else 150)
    queries_per_poll = None
    if "3" in only or "4" in only:
        figs_ws._dirs()
        daphne = Daphne(log_path=figs_ws.LOG_DIR / "daphne.log")
        try:
            if "3" in only:
                out = run("3", figs_ws.fig3_latency, daphne, session, updates=60 if quick else 200)
                queries_per_poll = out["raw"].get("forced", {}).get("queries_per_poll")
            if "4" in only:
                sizes = [50, 200] if quick else [200, 1000]
                if args.with_2000:
                    sizes.append(2000)
                run("4", figs_ws.fig4_fanout, daphne, session, sizes, window=5 if quick else 10)
        finally:
            daphne.stop()
    if "5" in only:
        run(
            "5+7",
            figs_ws.fig5_7_storm,
            session,
            n=200 if quick else 1000,
            queries_per_poll=queries_per_poll,
        )
    if "W" in only:
        run(
            "W",
            figs_ws.fig_whatif,
            lambda whatif, **env: Daphne(
                log_path=figs_ws.LOG_DIR / "daphne-whatif.log", BENCH_WHATIF=whatif, **env
            ),
            session,
            fanout_n=50 if quick else 200,
            storm_n=200 if quick else 1000,
        )
    if "S" in only:
        import figs_storm

        run(
            "S", figs_storm.fig_storms, figs_ws.SESSIONS_FILE, n=200 if quick else 1000, quick=quick
        )
    if "O" in only or "O1" in only:
        import figs_storm

        run(
            "O",
            figs_storm.fig_overload,
            figs_ws.SESSIONS_FILE,
            n=200 if quick else 1000,
            quick=quick,
            before=args.before,
            rates=(10, 20) if "O" in only else (10,),
            two="O" in only,
        )
    if "R2" in only:
        import figs_storm

        run("R2", figs_storm.fig_restarts, figs_ws.SESSIONS_FILE, n=200 if quick else 1000)
    if "SP" in only:
        import figs_storm

        run("SP", figs_storm.fig_storm_pairs, figs_ws.SESSIONS_FILE, n=200 if quick else 1000)
    if "L" in only:
        import figs_storm

        run("L", figs_storm.fig_levers, figs_ws.SESSIONS_FILE, n=200 if quick else 1000)
    if "6" in only:
        run("6", figs_local.fig6_import_overhead, rows=5_000 if quick else 50_000)

    results["rows"].sort(key=lambda r: r["id"])
    results["total_seconds"] = round(time.monotonic() - started, 1)
    print()
    results["table_markdown"] = print_table(results["rows"])
    print(f"\nTotal: {results['total_seconds']} s")
    out = RESULTS_DIR / "latest.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"Wrote {out}")
    # Missed targets are results, not errors; only a figure that could not run fails the suite.
    crashed = [k for k, f in results["figures"].items() if "error" in f["raw"]]
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
