"""OperationProgress: one row per run of a long operation, the durable truth."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.expressions import CombinedExpression
from django.utils import timezone

from progress import conf, signals

__all__ = ["ACTIVE_STATUSES", "FINAL_STATUSES", "OperationLogLine", "OperationProgress", "Status"]

# External transitions (stalled, cancel of a queued run, a failed enqueue) jump the seq
# this far, so they outrank live broadcasts a dead tracker sent ahead of its last write.
EXTERNAL_SEQ_STEP = 1_000_000


def external_seq() -> CombinedExpression:
    """The seq of a run changed from outside its tracker: the one rule for such jumps."""
    return F("seq") + EXTERNAL_SEQ_STEP


class Status(models.TextChoices):
    """Lifecycle of a run; the last four are final and never change again."""

    QUEUED = "queued", "Queued"
    """Created by an enqueue; no runner has picked it up yet."""
    RUNNING = "running", "Running"
    """A live tracker owns the run and beats its heartbeat."""
    COMPLETED = "completed", "Completed"
    """The operation finished cleanly."""
    FAILED = "failed", "Failed"
    """The operation raised; error_message says why."""
    CANCELLED = "cancelled", "Cancelled"
    """A user asked it to stop and it stopped at an item boundary."""
    STALLED = "stalled", "Stalled"
    """Its heartbeat stopped (the process died); it can be re-run."""


class Outcome(models.TextChoices):
    """How a finished run ended, in the words a person needs; None while it is active."""

    COMPLETED = "completed", "Completed"
    """It finished and no item failed."""
    COMPLETED_WITH_FAILURES = "completed_with_failures", "Completed with failures"
    """It finished, but items_failed items (rows, invalid records) failed."""
    FAILED = "failed", "Failed"
    """The operation raised; error_message says why."""
    CANCELLED = "cancelled", "Cancelled"
    """It stopped on request."""
    STALLED = "stalled", "Stalled"
    """Its process died; it can be re-run."""


def outcome_of(status: str, items_failed: int) -> str | None:
    """The one rule for a run's outcome (the model property and outcome_q() follow it)."""
    if status == Status.COMPLETED:
        return Outcome.COMPLETED_WITH_FAILURES if items_failed > 0 else Outcome.COMPLETED
    if status in (Status.FAILED, Status.CANCELLED, Status.STALLED):
        return Outcome(status).value
    return None


def outcome_q(outcome: str) -> Q:
    """Runs with this outcome, as a filter (see outcome_of)."""
    if outcome == Outcome.COMPLETED:
        return Q(status=Status.COMPLETED, items_failed=0)
    if outcome == Outcome.COMPLETED_WITH_FAILURES:
        return Q(status=Status.COMPLETED, items_failed__gt=0)
    return Q(status=outcome)


# "Has failures": items failed (in any status), or the run failed or stalled.
HAS_FAILURES = Q(items_failed__gt=0) | Q(status__in=[Status.FAILED, Status.STALLED])


ACTIVE_STATUSES = frozenset({Status.QUEUED, Status.RUNNING})
FINAL_STATUSES = frozenset(Status) - ACTIVE_STATUSES

# Which moves the state machine allows; anything else raises IllegalTransition.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.QUEUED: frozenset({Status.RUNNING, Status.FAILED, Status.CANCELLED, Status.STALLED}),
    Status.RUNNING: frozenset(
        {Status.RUNNING, Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.STALLED}
    ),
}


class IllegalTransition(ValueError):
    """A run was asked to move to a status its current status does not allow."""


def check_transition(current: str, new: str) -> None:
    """Raise IllegalTransition unless the state machine allows current -> new."""
    if new not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(
            f"A {current} run cannot become {new}"
            + ("; finished runs never change" if current in FINAL_STATUSES else "")
        )


def sees_all(user: Any) -> bool:
    """True if the (authenticated) user may see every run, not only their own."""
    return bool(user.is_staff) or conf.get("DASHBOARD_VISIBILITY") == "all"


def failures_text(count: int) -> str:
    """ "Completed with 1 failure", "Completed with 1,234 failures"."""
    return f"Completed with {count:,} failure{'' if count == 1 else 's'}"


LATE_CANCEL_TEXT = "Finished before your cancel arrived"
CANCELLING_TEXT = "Cancelling…"


class OperationProgressQuerySet(models.QuerySet["OperationProgress"]):
    def active(self) -> OperationProgressQuerySet:
        return self.filter(status__in=ACTIVE_STATUSES)

    def finished(self) -> OperationProgressQuerySet:
        return self.filter(status__in=FINAL_STATUSES)

    def visible_to(self, user: Any) -> OperationProgressQuerySet:
        """Runs the user may see: staff see all, others their own (or all, if configured).

        The one rule for querysets (API, pages, admin, snapshots); progress.publish.visibility
        applies the same rule (sees_all) to the groups a run's states go to.
        """
        if not getattr(user, "is_authenticated", False):
            return self.none()
        if sees_all(user):
            return self
        return self.filter(created_by=user)

    def with_outcome(self, *outcomes: str) -> OperationProgressQuerySet:
        """Finished runs that ended with any of these outcomes (Outcome values)."""
        condition = Q(pk__in=[])
        for outcome in outcomes:
            condition |= outcome_q(outcome)
        return self.filter(condition)

    def with_failures(self) -> OperationProgressQuerySet:
        """Runs with failed items, and runs that failed or stalled."""
        return self.filter(HAS_FAILURES)

    def stale(self, *, now: datetime, timeout: float) -> OperationProgressQuerySet:
        """Running runs whose heartbeat is older than timeout seconds."""
        cutoff = now - timedelta(seconds=timeout)
        return self.filter(status=Status.RUNNING).filter(
            Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, updated_at__lt=cutoff)
        )


class OperationProgress(models.Model):
    """One run of a long operation: counters, status, timing and what it was asked to do."""

    operation_name = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    current_operation = models.CharField(max_length=255, blank=True, default="")
    # None while the total is unknown: the run is indeterminate, not at 0 %.
    progress_percentage = models.FloatField(null=True, blank=True)
    current_item = models.PositiveIntegerField(default=0)
    total_items = models.PositiveIntegerField(null=True, blank=True)
    items_added = models.PositiveIntegerField(default=0)
    items_updated = models.PositiveIntegerField(default=0)
    # Items looked at and left as they were (already up to date), and items passed over
    # (blank rows, repeats merged into another): with added, updated and failed they add up
    # to the items a run processed.
    items_unchanged = models.PositiveIntegerField(default=0)
    items_skipped = models.PositiveIntegerField(default=0)
    items_failed = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True, default="")
    rate = models.FloatField(null=True, blank=True, help_text="Items per second, smoothed.")
    metadata = models.JSONField(default=dict, blank=True)
    # [[elapsed seconds, current_item, overall percentage or null], ...], at most ~300.
    samples = models.JSONField(default=list, blank=True)
    seq = models.BigIntegerField(default=0, help_text="Rises on every saved or broadcast change.")
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="operations",
    )
    # A re-run keeps its run's owner (created_by) and records who started it again, so
    # the owner sees it and the old and new runs link to each other.
    rerun_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reruns",
        help_text="The run this one repeats with the same parameters.",
    )
    rerun_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who started this re-run (the owner stays the original run's).",
    )
    task_result_id = models.CharField(max_length=64, blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    estimated_completion = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = OperationProgressQuerySet.as_manager()

    class Meta:
        db_table = "operation_progress"
        ordering = ["-created_at", "-id"]
        verbose_name = "operation"
        indexes = [
            models.Index(fields=["operation_name", "status"], name="op_name_status_idx"),
            models.Index(fields=["status", "heartbeat_at"], name="op_status_heartbeat_idx"),
            models.Index(fields=["updated_at"], name="op_updated_idx"),
        ]
        permissions = [
            ("start_pipeline", "Can start pipelines"),
            ("cancel_any_operation", "Can cancel anyone's runs"),
        ]

    def __str__(self) -> str:
        return f"{self.operation_name} #{self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def outcome(self) -> str | None:
        """How the run ended (an Outcome value), None while it is queued or running."""
        return outcome_of(self.status, self.items_failed)

    @property
    def has_failures(self) -> bool:
        """Items failed, or the run failed or stalled (the list's "Has failures" filter)."""
        return self.items_failed > 0 or self.status in (Status.FAILED, Status.STALLED)

    @property
    def status_text(self) -> str:
        """The badge's words: "Cancelling…", "Completed with 5 failures", or the status."""
        if self.is_active and self.cancel_requested_at is not None:
            return CANCELLING_TEXT
        if self.outcome == Outcome.COMPLETED_WITH_FAILURES:
            return failures_text(self.items_failed)
        return str(self.get_status_display())

    @property
    def cancel_arrived_late(self) -> bool:
        """A cancel was asked for, but the run had finished (or finished) another way."""
        return self.cancel_requested_at is not None and self.status not in (
            *ACTIVE_STATUSES,
            Status.CANCELLED,
        )

    @property
    def is_indeterminate(self) -> bool:
        return self.progress_percentage is None

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None:
            return None
        return (self.completed_at or timezone.now()) - self.started_at

    def request_cancel(self) -> bool:
        """Ask the run to stop; a queued run is cancelled at once. Returns False if finished."""
        now = timezone.now()
        if self._end_from_outside(Status.CANCELLED, {Status.QUEUED}, cancel_requested_at=now):
            return True
        running = OperationProgress.objects.filter(pk=self.pk, status=Status.RUNNING).update(
            cancel_requested_at=now
        )
        if not running:
            return False
        self.refresh_from_db()
        return True

    def fail_queued(self, message: str) -> bool:
        """Fail a run that never started (its enqueue failed); False if it is not queued."""
        return self._end_from_outside(Status.FAILED, {Status.QUEUED}, error_message=message)

    def mark_stalled(self, *, reason: str = "") -> bool:
        """Mark a run whose runner died as stalled; returns False if it had already finished."""
        message = reason or "The run's heartbeat stopped; its process probably died."
        return self._end_from_outside(
            Status.STALLED, ACTIVE_STATUSES, error_message=message, estimated_completion=None
        )

    def _end_from_outside(self, status: str, current: Iterable[str], **fields: Any) -> bool:
        """End the run from outside its tracker (guarded by its current status), then signal it.

        The one rule for such transitions: the seq jumps EXTERNAL_SEQ_STEP (external_seq()),
        and the run's signal is sent once the change is committed. A changed row is re-read.
        """
        now = timezone.now()
        changed = OperationProgress.objects.filter(pk=self.pk, status__in=current).update(
            status=status, completed_at=now, updated_at=now, seq=external_seq(), **fields
        )
        if not changed:
            return False
        self.refresh_from_db()
        if status == Status.STALLED:
            signals.send_on_commit(signals.operation_stalled, self)
        else:
            signals.send_on_commit(signals.operation_finished, self, status=status)
        return True


class OperationLogLine(models.Model):
    """One log record captured while a run's tracked block ran (newest LOG_LINES kept)."""

    run = models.ForeignKey(OperationProgress, on_delete=models.CASCADE, related_name="log_lines")
    number = models.PositiveIntegerField(help_text="1-based, in the order records were emitted.")
    time = models.DateTimeField()
    level = models.PositiveSmallIntegerField(help_text="logging level number, e.g. 30 = WARNING")
    logger = models.CharField(max_length=100)
    message = models.TextField()

    class Meta:
        db_table = "operation_log_line"
        ordering = ["run", "number"]
        verbose_name = "log line"
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="op_log_run_number_uniq")
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} #{self.number}: {self.message[:60]}"
