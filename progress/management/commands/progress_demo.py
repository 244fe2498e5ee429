"""A synthetic tracked run, for trying the core without any domain app."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from progress.tracker import track_operation


class Command(BaseCommand):
    help = "Run a synthetic tracked operation (for smoke tests of the progress core)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--items", type=int, default=100, help="Number of items.")
        parser.add_argument("--delay", type=float, default=0.05, help="Seconds per item.")
        parser.add_argument("--name", default="progress_demo", help="Operation name.")
        parser.add_argument("--fail-at", type=int, default=None, help="Raise at this item.")

    def handle(
        self, *args: Any, items: int, delay: float, name: str, fail_at: int | None, **options: Any
    ) -> None:
        with track_operation(name, total_items=items) as tracker:
            self.stdout.write(f"operation {tracker.id}")
            self.stdout.flush()
            for i in range(1, items + 1):
                tracker.raise_if_cancelled()
                time.sleep(delay)
                if fail_at == i:
                    raise RuntimeError(f"demo failure at item {i}")
                tracker.update(current_item=i, items_added=i)
