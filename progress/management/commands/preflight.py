"""Check that the configured database and Redis answer; one line each if not."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from progressproject.preflight import database_problem, redis_problem


class Command(BaseCommand):
    help = "Check that DATABASE_URL and REDIS_URL are reachable; exit 1 with a clear line if not."
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        problems = [p for p in (database_problem(), redis_problem()) if p]
        if problems:
            raise CommandError("\n".join(problems))
        self.stdout.write("Database and channel layer are reachable.")
