"""Check that the database and the channel layer answer; one line each if not."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from progress import preflight


class Command(BaseCommand):
    help = (
        "Check that the database and the channel layer's Redis are reachable (plus any "
        "check the project registered with progress.preflight); exit 1 with a line each if not."
    )
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        problems = preflight.problems()
        if problems:
            raise CommandError("\n".join(problems))
        self.stdout.write("Database and channel layer are reachable.")
