"""Scope lookups for commands, with errors that list what exists."""

from __future__ import annotations

from django.core.management.base import CommandError

from curation.models import Scope


def required_scope(name: str) -> Scope:
    try:
        return Scope.objects.get(name=name)
    except Scope.DoesNotExist:
        known = ", ".join(Scope.objects.values_list("name", flat=True)) or "none yet"
        raise CommandError(
            f"No scope {name!r} (known: {known}); import genes into it first with "
            f"import_genes PATH --scope {name}"
        ) from None


def optional_scope(name: str | None) -> Scope | None:
    return None if name is None else required_scope(name)
