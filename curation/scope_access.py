"""Who may use a scope: import into it, run pipelines on it, change the genes it shares.

A scope's owner may use it; staff and holders of curation.use_any_scope may use every
scope, shared ones (owner NULL) included. Management commands are the operator's and
skip these checks. Choices offered to a user are bounded (MAX_SCOPE_CHOICES) and only
the user's own: with 20,000 scopes, every start form once listed every name to everyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from curation.models import Curation, Scope, ScopeGene

# Scope names a start form, the pipelines API or an error message lists at most; beyond
# it, type (the API searches with ?search=).
MAX_SCOPE_CHOICES = 50
USE_ANY_SCOPE = "curation.use_any_scope"
# A search longer than a scope name (Scope.name's max_length) can match nothing.
MAX_SEARCH_CHARS = 100


class ScopeNotPermitted(Exception):
    """The user may not use that scope; the message says whose it is and what to do."""


@dataclass(frozen=True)
class ScopeChoices:
    """At most MAX_SCOPE_CHOICES names, and how many more matched."""

    names: list[str]
    more: int

    def text(self) -> str:
        """The names for a message: "a, b (and 3 more; type a name to search)"."""
        shown = ", ".join(self.names) or "none yet"
        return f"{shown} (and {self.more} more; type to search)" if self.more else shown


def may_use_every_scope(user: Any) -> bool:
    """Staff, or a user granted curation.use_any_scope (superusers hold every permission)."""
    return bool(
        getattr(user, "is_authenticated", False) and (user.is_staff or user.has_perm(USE_ANY_SCOPE))
    )


def usable_scopes(user: Any) -> QuerySet[Scope]:
    """The scopes user may import into and run pipelines on."""
    if may_use_every_scope(user):
        return Scope.objects.all()
    if not getattr(user, "is_authenticated", False):
        return Scope.objects.none()
    return Scope.objects.filter(owner=user)


def may_use(user: Any, scope: Scope) -> bool:
    return may_use_every_scope(user) or (
        scope.owner_id is not None and scope.owner_id == getattr(user, "pk", None)
    )


def scope_choices(user: Any, *, search: str = "", every: bool = False) -> ScopeChoices:
    """The user's scope names (every scope's for the operator: every=True) containing
    search, the first MAX_SCOPE_CHOICES by name."""
    scopes = Scope.objects.all() if every else usable_scopes(user)
    if "\x00" in search or len(search) > MAX_SEARCH_CHARS:
        return ScopeChoices([], 0)  # no name holds it (PostgreSQL refuses NUL in a query)
    if search:
        scopes = scopes.filter(name__icontains=search)
    names = list(scopes.order_by("name").values_list("name", flat=True)[: MAX_SCOPE_CHOICES + 1])
    if len(names) <= MAX_SCOPE_CHOICES:
        return ScopeChoices(names, 0)
    return ScopeChoices(names[:MAX_SCOPE_CHOICES], scopes.count() - MAX_SCOPE_CHOICES)


def require_usable(user: Any, scope: Scope) -> None:
    """Raise ScopeNotPermitted unless user may use scope."""
    if may_use(user, scope):
        return
    whose = (
        "a shared scope, which only staff may change"
        if scope.owner_id is None
        else ("another user's scope")
    )
    raise ScopeNotPermitted(
        f"You may not use scope {scope.name!r}: it is {whose}. Choose one of your own scopes, "
        "import into a new scope name, or ask an administrator for the "
        f"{USE_ANY_SCOPE!r} permission."
    )


def genes_shared_beyond(scope: Scope, gene_ids: list[int]) -> set[int]:
    """Of gene_ids, those another scope lists or curates: changing them changes its data."""
    listed = ScopeGene.objects.filter(gene_id__in=gene_ids).exclude(scope=scope)
    curated = Curation.objects.filter(gene_id__in=gene_ids).exclude(scope=scope)
    return set(listed.values_list("gene_id", flat=True)) | set(
        curated.values_list("gene_id", flat=True)
    )
