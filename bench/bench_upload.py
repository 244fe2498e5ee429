"""Upload figure: a 20 MiB, 1-million-row CSV through the API, then imported by a worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/progress_bench_upload \\
        .venv/bin/python bench/bench_upload.py [--rows 1000000] [--json results.json]

Reports:
- the time to the API's 202 (in-process WSGI: multipart parsing, permission, prefix check,
  storing the upload; the request body is pre-encoded, so its building is not counted);
- the worker's import: wall time and peak extra memory (ru_maxrss minus the RSS before the
  import, in a fresh subprocess that runs the task as a db_worker would).

The database is created if missing and migrated; its genes are emptied before the run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def build_csv(path: Path, rows: int) -> int:
    """hgnc_id,symbol rows (HGNC:<n>,GS<n>): about 21 bytes a row, 20 MiB for a million."""
    with path.open("w") as handle:
        handle.write("hgnc_id,symbol\n")
        for n in range(1, rows + 1):
            handle.write(f"HGNC:{n},GS{n}\n")
    return path.stat().st_size


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True
    )


def post_upload(path: Path) -> tuple[float, int, dict]:
    """POST the file to the API; returns (seconds to the response, status, body)."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
    from rest_framework.test import APIClient

    from curation.models import Gene

    Gene.objects.all().delete()
    user, _ = get_user_model().objects.get_or_create(
        username="bench-upload", defaults={"is_superuser": True, "is_staff": True}
    )
    client = APIClient()
    client.force_login(user)
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    body = encode_multipart(BOUNDARY, {"file": upload, "scope": "bench"})
    started = time.perf_counter()
    response = client.generic(
        "POST",
        "/api/v1/pipelines/gene_import/start/",
        body,
        MULTIPART_CONTENT,
        HTTP_HOST="127.0.0.1",
    )
    elapsed = time.perf_counter() - started
    if response["Content-Type"] != "application/json":
        return elapsed, response.status_code, {"body": response.content[:300].decode()}
    return elapsed, response.status_code, response.json()


WORKER = """
import os, resource, sys, time, json
import django
django.setup()
from curation.tasks import gene_import_task
from progress.runtime.writer import get_writer

def rss():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

before = rss()
started = time.perf_counter()
result = gene_import_task.call(int(sys.argv[1]), **json.loads(sys.argv[2]))
seconds = time.perf_counter() - started
get_writer().drain()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "rss_before": before, "peak_rss": peak, "result": result}))
"""


def run_worker(operation_id: int, parameters: dict) -> dict:
    """Run the task in a fresh process, as a db_worker would, and measure it."""
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(operation_id), json.dumps(parameters)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "progressproject.settings")
    # Queue only: the request must not run the import (the worker subprocess does).
    os.environ["TASKS_BACKEND"] = "db"
    sys.path.insert(0, str(ROOT))
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database for the bench")
    ensure_database(url)
    with tempfile.TemporaryDirectory() as folder:
        os.environ["MEDIA_ROOT"] = str(Path(folder) / "media")
        path = Path(folder) / "genes.csv"
        size = build_csv(path, args.rows)
        latency, status, body = post_upload(path)
        print(f"file: {args.rows:,} rows, {size / MIB:.1f} MiB")
        print(f"API: {status} in {latency:.2f} s")
        if status != 202:
            sys.exit(f"the upload was refused: {body}")
        from progress.models import OperationProgress

        parameters = OperationProgress.objects.get(pk=body["id"]).metadata["parameters"]
        worker = run_worker(body["id"], parameters)
    extra = (worker["peak_rss"] - worker["rss_before"]) / MIB
    print(
        f"worker: {worker['seconds']:.1f} s ({args.rows / worker['seconds']:,.0f} rows/s), "
        f"peak extra memory {extra:.0f} MiB (RSS {worker['rss_before'] / MIB:.0f} MiB before, "
        f"peak {worker['peak_rss'] / MIB:.0f} MiB); result {worker['result']}"
    )
    figures = {
        "rows": args.rows,
        "bytes": size,
        "status": status,
        "seconds_to_202": round(latency, 3),
        "import_seconds": round(worker["seconds"], 1),
        "peak_extra_mib": round(extra, 1),
        "result": worker["result"],
        "this_process_maxrss_mib": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        ),
    }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
