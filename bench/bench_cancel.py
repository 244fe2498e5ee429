"""Cancel latency per stage of the demo pipeline (issue 24): request to final state.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/progress_bench_cancel \\
        .venv/bin/python bench/bench_cancel.py [--repeats 3] [--pace 0.02] [--json out.json]

For each stage (import, validate, score) and repeat: a paced run_curation_pipeline starts
in its own process (as `make run`'s demo loop does); once its run is in the stage, after a
random pause of up to one CANCEL_POLL_INTERVAL (so the cancel lands anywhere in the
writer's poll cycle), this process requests the cancel as the API does
(progress.cancel.operation_cancel) and polls the table every 5 ms until the run is
final. Reported: the final status and the seconds from request to the final row.

The scope "bench-cancel" (one panel file, about 200 demo curations) is created on first
use; the database is created if missing and migrated. The pipeline's rows are written
every 0.1 s (PROGRESS_DB_INTERVAL) so the stage is seen promptly; the cancel path does
not depend on it. summarise is a single instant item and is not measured.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/progress_bench_cancel")
# The bench environment turns DEBUG off, which needs a key (bench/run.sh exports one).
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + secrets.token_urlsafe(40))

from common import PYTHON, ROOT, bench_env, fmt_seconds, median, setup_django  # noqa: E402

STAGES = ("import", "validate", "score")
SCOPE = "bench-cancel"
SOURCE = "data/kidney-panels/cegat.json"
PIPELINE = [PYTHON, "manage.py", "run_curation_pipeline", "--scope", SCOPE]


def ensure_database(url: str) -> None:
    """Create the database if missing, then migrate it."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=bench_env(),
        check=True,
    )


def ensure_scope() -> int:
    """The bench's scope with its genes and demo curations; returns its curation count."""
    from curation.demo import demo_curations
    from curation.gene_import import gene_import
    from curation.models import Curation, Scope
    from progress.tracker import track_operation

    scope, created = Scope.objects.get_or_create(name=SCOPE, defaults={"sources": [SOURCE]})
    if created or not Curation.objects.filter(scope=scope).exists():
        with track_operation("bench_cancel_seed") as tracker:
            gene_import(path=ROOT / SOURCE, scope=scope, tracker=tracker)
        demo_curations(scope)
    return Curation.objects.filter(scope=scope).count()


def start_pipeline(pace: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*PIPELINE, "--pace", str(pace), "--no-bar"],
        cwd=ROOT,
        env=bench_env(PROGRESS_DB_INTERVAL="0.1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_stage(process: subprocess.Popen[str], after: int, stage: str) -> int:
    """The id of the pipeline run newer than `after` once it is in `stage`."""
    from progress.models import OperationProgress

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the pipeline exited early: {process.stderr.read()}")
        run = OperationProgress.objects.filter(
            operation_name="curation_pipeline", pk__gt=after
        ).first()
        current = (run.metadata.get("stage") or {}).get("name") if run is not None else None
        if run is not None and current == stage and run.current_item > 0:
            return run.pk
        time.sleep(0.02)
    raise RuntimeError(f"the pipeline never reached {stage}")


def cancel_latency(run_id: int) -> tuple[str, float]:
    """Request the cancel; (final status, seconds until the table held it)."""
    from progress.cancel import operation_cancel
    from progress.models import FINAL_STATUSES, OperationProgress

    asked = time.monotonic()
    operation_cancel(OperationProgress.objects.get(pk=run_id))
    while time.monotonic() - asked < 60:
        status = OperationProgress.objects.values_list("status", flat=True).get(pk=run_id)
        if status in FINAL_STATUSES:
            return status, time.monotonic() - asked
        time.sleep(0.005)
    return "running", float("inf")


def measure(stage: str, pace: float, poll_interval: float) -> tuple[str, float]:
    from progress.models import OperationProgress

    newest = OperationProgress.objects.order_by("-pk").values_list("pk", flat=True).first()
    process = start_pipeline(pace)
    try:
        run_id = wait_for_stage(process, newest or 0, stage)
        time.sleep(random.uniform(0, poll_interval))
        return cancel_latency(run_id)
    finally:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pace", type=float, default=0.02, help="seconds per item (demo)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    ensure_database(os.environ["DATABASE_URL"])
    setup_django()
    from progress import conf

    poll_interval = conf.get("CANCEL_POLL_INTERVAL")
    curations = ensure_scope()
    print(f"scope {SCOPE}: {curations} curations; pace {args.pace}s/item; ", end="")
    print(f"CANCEL_POLL_INTERVAL {poll_interval}s; {args.repeats} cancels per stage")
    results: dict[str, list[dict[str, object]]] = {}
    print(f"{'stage':<10} {'statuses':<24} {'median':>8} {'max':>8}")
    for stage in STAGES:
        runs = [measure(stage, args.pace, poll_interval) for _ in range(args.repeats)]
        results[stage] = [{"status": s, "seconds": round(t, 3)} for s, t in runs]
        seconds = [t for _, t in runs]
        statuses = ",".join(sorted({s for s, _ in runs}))
        print(
            f"{stage:<10} {statuses:<24} {fmt_seconds(median(seconds)):>8} "
            f"{fmt_seconds(max(seconds)):>8}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
