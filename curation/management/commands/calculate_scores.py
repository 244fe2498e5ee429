"""python manage.py calculate_scores [--scope NAME] [--as-of YYYY-MM-DD] [--enqueue]"""

from __future__ import annotations

import functools
from argparse import ArgumentTypeError
from datetime import date
from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone

from curation.management.scopes import ScopeOperationCommand
from curation.scoring_run import curations_score


def past_date(text: str) -> date:
    """Parse --as-of: an ISO date no later than today."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ArgumentTypeError(
            f"{text!r} is not a date; write YYYY-MM-DD, e.g. 2023-06-30"
        ) from None
    if day > timezone.localdate():
        # A future date would count years that have not passed towards replication.
        raise ArgumentTypeError(
            f"{text} is in the future; give today or an earlier date, or leave out --as-of"
        )
    return day


class Command(ScopeOperationCommand):
    help = "Score curations from their evidence per ClinGen SOP v11, with live progress."
    operation_name = "calculate_scores"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--as-of",
            type=past_date,
            metavar="YYYY-MM-DD",
            help="Score as of this past date: later publications do not count towards "
            "replication (default: today).",
        )
        super().add_arguments(parser)

    def handle(self, *args: Any, scope: str | None, as_of: date | None, **options: Any) -> None:
        work = curations_score if as_of is None else functools.partial(curations_score, as_of=as_of)
        extra = {} if as_of is None else {"as_of": as_of.isoformat()}
        ran = self.run_over_scope(work, scope=scope, extra=extra, **options)
        if ran is None:
            return
        operation, classes = ran
        self.stdout.write(
            f"Scored {operation.current_item} curations ({operation.items_updated} changed, "
            f"{operation.items_failed} failed)."
        )
        for name, count in sorted(classes.items()):
            self.stdout.write(f"  {name}: {count}")
        review = operation.metadata.get("needs_expert_review", 0)
        if review:
            self.stdout.write(f"  {review} need expert review (contradictory evidence).")
