"""Who sees which runs, as groups: the queryset rule (OperationProgress.objects.visible_to)
applied to where a run's states go and what a socket joins.

Staff see every run, and so does everyone when DASHBOARD_VISIBILITY is "all"; others see
their own. A run's states go to the groups of everyone who may see it (run_groups), and a
socket joins the groups of what its user may see (user_groups): the same rule both ways.
"""

from __future__ import annotations

from typing import Any

from progress.models import sees_all

# Staff (or everyone, with DASHBOARD_VISIBILITY="all") listen on ALL_GROUP; a user on their
# own group; a single-run page on the run's group, and on its log group for log lines.
ALL_GROUP = "progress.all"


def user_group(user_id: int) -> str:
    return f"progress.user.{user_id}"


def operation_group(operation_id: int) -> str:
    return f"progress.op.{operation_id}"


def log_group(operation_id: int) -> str:
    """The run page's group for live log lines (not states: those go through fan-out)."""
    return f"progress.log.{operation_id}"


def run_groups(operation_id: int, created_by_id: int | None) -> tuple[str, ...]:
    """Every group one run's states go to: all, the run's own, its owner's."""
    groups = [ALL_GROUP, operation_group(operation_id)]
    if created_by_id is not None:
        groups.append(user_group(created_by_id))
    return tuple(groups)


def user_groups(user: Any, *, operation_id: int | None = None) -> list[str]:
    """The groups a socket joins: one run's (checked visible first), all runs, or the user's."""
    if operation_id is not None:
        return [operation_group(operation_id)]
    if sees_all(user):
        return [ALL_GROUP]
    return [user_group(user.pk)]


def visibility_key(user: Any, *, operation_id: int | None = None) -> tuple[Any, ...]:
    """Users with the same key see the same runs: one run, all runs, or one user's."""
    if operation_id is not None:
        return ("run", operation_id)
    if sees_all(user):
        return ("all",)
    return ("user", user.pk)
