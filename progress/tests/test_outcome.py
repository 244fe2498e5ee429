"""A run's outcome: how it ended, failures included, as the model, the queries and the wire say."""

from __future__ import annotations

import pytest
from django.utils import timezone

from progress.models import OperationProgress, Outcome, Status
from progress.serializers import operation_data
from progress.tests.factories import OperationProgressFactory


@pytest.mark.parametrize(
    ("status", "items_failed", "outcome"),
    [
        (Status.COMPLETED, 0, Outcome.COMPLETED),
        (Status.COMPLETED, 5, Outcome.COMPLETED_WITH_FAILURES),
        (Status.FAILED, 0, Outcome.FAILED),
        (Status.FAILED, 3, Outcome.FAILED),
        (Status.CANCELLED, 2, Outcome.CANCELLED),
        (Status.STALLED, 0, Outcome.STALLED),
        (Status.RUNNING, 4, None),
        (Status.QUEUED, 0, None),
    ],
)
def test_the_outcome_follows_the_status_and_failed_items(status, items_failed, outcome):
    run = OperationProgress(status=status, items_failed=items_failed)
    assert run.outcome == outcome


def test_a_run_completed_with_failures_says_how_many():
    assert OperationProgress(status=Status.COMPLETED, items_failed=5).status_text == (
        "Completed with 5 failures"
    )
    assert OperationProgress(status=Status.COMPLETED, items_failed=1).status_text == (
        "Completed with 1 failure"
    )
    assert OperationProgress(status=Status.COMPLETED).status_text == "Completed"


def test_a_run_asked_to_stop_reads_cancelling_until_it_ends():
    asked = timezone.now()
    assert OperationProgress(status=Status.RUNNING, cancel_requested_at=asked).status_text == (
        "Cancelling…"
    )
    ended = OperationProgress(status=Status.COMPLETED, cancel_requested_at=asked)
    assert ended.status_text == "Completed"
    assert ended.cancel_arrived_late
    for status in (Status.CANCELLED, Status.RUNNING):
        assert not OperationProgress(status=status, cancel_requested_at=asked).cancel_arrived_late


def test_the_outcome_is_on_the_wire():
    data = operation_data(OperationProgress(pk=1, status=Status.COMPLETED, items_failed=14))
    assert data["status"] == "completed"  # the status and the event type stay as they were
    assert data["outcome"] == "completed_with_failures"
    assert operation_data(OperationProgress(pk=2, status=Status.RUNNING))["outcome"] is None


@pytest.mark.django_db
def test_the_queries_find_runs_by_outcome_and_by_failures():
    clean = OperationProgressFactory(status=Status.COMPLETED, items_failed=0)
    partly = OperationProgressFactory(status=Status.COMPLETED, items_failed=5)
    failed = OperationProgressFactory(status=Status.FAILED)
    stalled = OperationProgressFactory(status=Status.STALLED)
    cancelled = OperationProgressFactory(status=Status.CANCELLED)
    running = OperationProgressFactory(status=Status.RUNNING, items_failed=2)
    runs = OperationProgress.objects

    def ids(queryset):
        return set(queryset.values_list("pk", flat=True))

    assert ids(runs.with_outcome(Outcome.COMPLETED)) == {clean.pk}
    assert ids(runs.with_outcome(Outcome.COMPLETED_WITH_FAILURES)) == {partly.pk}
    assert ids(runs.with_outcome(Outcome.FAILED, Outcome.STALLED)) == {failed.pk, stalled.pk}
    assert ids(runs.with_failures()) == {partly.pk, failed.pk, stalled.pk, running.pk}
    assert cancelled.pk not in ids(runs.with_failures())
    for run in runs.all():
        assert run.has_failures == (run.pk in ids(runs.with_failures()))
