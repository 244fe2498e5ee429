"""python manage.py prune_operations [--older-than 30d] [--batch-size 1000] [--dry-run]"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from progress import conf, files
from progress.models import FINAL_STATUSES, OperationProgress

AGE = re.compile(r"^(\d+)([dhm])$")
UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_age(text: str) -> timedelta:
    """'30d', '12h' or '90m' as a timedelta."""
    match = AGE.match(text.strip())
    if not match:
        raise CommandError(f"--older-than {text!r}: write a number and d, h or m, e.g. 30d")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


class Command(BaseCommand):
    help = (
        "Delete finished runs older than a cutoff, in batches, with the files they own "
        "(uploads, reports). Running runs are never deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            default=None,
            help="Age such as 30d, 12h, 90m (default: PROGRESS['RETENTION_DAYS'] days).",
        )
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--dry-run", action="store_true", help="Count, delete nothing.")

    def handle(
        self, *args: Any, older_than: str | None, batch_size: int, dry_run: bool, **options: Any
    ) -> None:
        age = parse_age(older_than) if older_than else timedelta(days=conf.get("RETENTION_DAYS"))
        cutoff = timezone.now() - age
        old = OperationProgress.objects.filter(
            status__in=FINAL_STATUSES, created_at__lt=cutoff
        ).order_by("pk")
        if dry_run:
            self.stdout.write(
                f"Would delete {old.count()} finished run(s) created before {cutoff:%Y-%m-%d %H:%M}"
            )
            return
        deleted = removed = 0
        while True:
            batch = list(old.values_list("pk", f"metadata__{files.FILES_KEY}")[:batch_size])
            if not batch:
                break
            # Re-check the status in the DELETE itself: only finished runs ever go.
            _total, per_model = OperationProgress.objects.filter(
                pk__in=[pk for pk, _ in batch], status__in=FINAL_STATUSES
            ).delete()
            # Runs, not rows: delete() also counts each run's log lines and samples.
            deleted += per_model.get(OperationProgress._meta.label, 0)
            # After the rows: a file may outlive its run (logged), never the other way round.
            removed += files.files_delete(_owned_files(batch))
        self.stdout.write(
            f"Deleted {deleted} finished run(s) created before {cutoff:%Y-%m-%d %H:%M}, "
            f"and {removed} file(s) they owned."
        )


def _owned_files(batch: list[tuple[int, Any]]) -> list[str]:
    """Storage names of the files the runs in batch recorded."""
    return [
        entry["name"]
        for _, entries in batch
        for entry in files.run_files({files.FILES_KEY: entries})
    ]
