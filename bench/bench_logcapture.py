"""Cost per log record of run-log capture, on the emitting thread.

    .venv/bin/python bench/bench_logcapture.py [records]

Each case logs the same INFO record through its own logger (propagate off, one handler),
so the numbers differ only by the handler:

- null: logging.NullHandler, logging's own cost (record creation, level checks);
- storing: a plain logging.Handler that formats the message and keeps it in a bounded
  deque, the least any capturing handler does;
- capture, outside a block: progress's RunLogHandler with no run in context;
- capture, inside a block: RunLogHandler attaching the record to a run (what a tracked
  pipeline pays; storing and broadcasting happen later on the writer thread).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import deque

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "progressproject.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from progress.runtime.logcapture import RunLog, RunLogHandler, capturing

REPEATS = 7


class StoringHandler(logging.Handler):
    """A plain handler: format the message, keep the newest in a bounded deque."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: deque[str] = deque(maxlen=1000)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def logger_with(handler: logging.Handler, name: str) -> logging.Logger:
    logger = logging.getLogger(f"bench.logcapture.{name}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def per_record_ns(logger: logging.Logger, records: int) -> float:
    """Fewest nanoseconds per logger.info call over REPEATS (the least disturbed run)."""
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter_ns()
        for i in range(records):
            logger.info("imported row %s of %s", i, records)
        samples.append((time.perf_counter_ns() - start) / records)
    return min(samples)


def main() -> None:
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    capture = logger_with(RunLogHandler(), "capture")
    results = {
        "null (logging's own cost)": per_record_ns(
            logger_with(logging.NullHandler(), "null"), records
        ),
        "storing logging.Handler": per_record_ns(logger_with(StoringHandler(), "storing"), records),
        "capture, outside a block": per_record_ns(capture, records),
    }
    run_log = RunLog(1, level=logging.INFO, limit=1000)
    with capturing(run_log):
        results["capture, inside a block"] = per_record_ns(capture, records)
    assert run_log.total == REPEATS * records
    baseline = results["null (logging's own cost)"]
    print(f"{records} records x {REPEATS} repeats, Python {sys.version.split()[0]}")
    for name, ns in results.items():
        print(f"  {name:<28} {ns / 1000:6.2f} us/record  (+{(ns - baseline) / 1000:5.2f} us)")


if __name__ == "__main__":
    main()
