"""python manage.py mark_stalled [--timeout SECONDS]  (for cron)"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from progress.publish.publisher import get_publisher
from progress.runtime.sweeps import queued_runs_sweep, stalled_runs_mark


class Command(BaseCommand):
    help = (
        "Mark running runs whose heartbeat stopped (older than STALL_TIMEOUT) as stalled, "
        "and fail queued runs whose task already ended without starting them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--timeout", type=float, help="Seconds; default PROGRESS['STALL_TIMEOUT']."
        )

    def handle(self, *args: Any, timeout: float | None, **options: Any) -> None:
        marked = stalled_runs_mark(timeout=timeout)
        failed = queued_runs_sweep(grace=timeout)
        get_publisher().flush()
        self.stdout.write(
            f"Marked {len(marked)} run(s) stalled: {marked}" if marked else "No stalled runs."
        )
        self.stdout.write(
            f"Failed {len(failed)} queued run(s) whose task had ended: {failed}"
            if failed
            else "No queued runs whose task had ended."
        )
