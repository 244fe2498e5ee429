"""A run's samples, averages, typical durations and the ETA from past runs."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from progress.models import OperationProgress, Status
from progress.runtime import history
from progress.runtime.history import PastRun, SampleSeries
from progress.runtime.writer import get_writer
from progress.tests.factories import OperationProgressFactory
from progress.tests.waiting import eventually
from progress.tracker import track_operation

# --- samples (pure) -------------------------------------------------------------------


def test_samples_stay_within_the_limit_and_spread_over_the_whole_run():
    series = SampleSeries(limit=300)
    for i in range(100_000):
        series.add([float(i), i, None])
    points = series.export()
    assert len(points) <= 300
    assert points[0][0] == 0.0 and points[-1][0] == 99_999.0  # first and newest kept
    gaps = {b[0] - a[0] for a, b in itertools.pairwise(points[:-1])}
    assert gaps == {float(series.stride)}  # evenly spaced
    assert series.stride == 512


def test_short_runs_keep_every_sample():
    series = SampleSeries(limit=300)
    for i in range(10):
        series.add([i, i, i * 10.0])
    assert series.export() == [[i, i, i * 10.0] for i in range(10)]


def test_the_newest_sample_is_exported_even_between_strides():
    series = SampleSeries(limit=4)
    for i in range(6):
        series.add([i])
    assert series.export()[-1] == [5]
    assert len(series.export()) <= 4


# --- averages, typical durations (pure) -----------------------------------------------


def test_average_rate_needs_a_duration():
    assert history.average_rate(100, 50.0) == 2.0
    assert history.average_rate(100, 0) is None
    assert history.average_rate(100, None) is None


def test_typical_duration_is_the_median():
    assert history.typical_duration([10, 30, 20, 1000]) == 25.0
    assert history.typical_duration([]) is None


def test_a_run_is_much_slower_below_half_the_typical_rate():
    assert history.is_much_slower(4.9, 10)
    assert not history.is_much_slower(5.1, 10)
    assert not history.is_much_slower(None, 10)
    assert not history.is_much_slower(1, None)


def test_typical_rate_is_the_median_of_known_rates():
    assert history.typical_rate([10, None, 30, 20, 0]) == 20.0
    assert history.typical_rate([None]) is None


# --- the ETA from past runs (pure) ----------------------------------------------------


def test_weighted_median_follows_the_weights():
    assert history.weighted_median([(1, 1), (2, 1), (3, 1)]) == 2
    assert history.weighted_median([(1, 1), (2, 1), (3, 10)]) == 3
    assert history.weighted_median([]) is None


def test_similar_totals_weigh_more():
    assert history.similarity(100, 100) == 1.0
    assert history.similarity(200, 100) == 0.5
    assert history.similarity(100, 10_000) < history.similarity(100, 200)


def test_eta_uses_the_median_rate_of_runs_of_similar_size():
    past = [
        PastRun(total=1000, items=1000, seconds=100),  # 10/s
        PastRun(total=1000, items=1000, seconds=100),  # 10/s
        PastRun(total=10, items=10, seconds=10),  # 1/s, but a tenth of the size
        PastRun(total=20, items=20, seconds=20),
        PastRun(total=15, items=15, seconds=15),
    ]
    remaining = history.history_seconds_remaining(
        past, total=1000, current=500, fraction=0.5, elapsed=5
    )
    assert remaining == 50.0  # 500 left at 10/s
    # The same past, asked about a small run, follows the small runs.
    small = history.history_seconds_remaining(past, total=12, current=0, fraction=0.0, elapsed=0)
    assert small == 12.0


def test_staged_or_unknown_size_runs_scale_the_median_duration():
    past = [PastRun(None, 5, 60), PastRun(None, 5, 100), PastRun(None, 5, 80)]
    assert history.history_seconds_remaining(
        past, total=None, current=0, fraction=0.25, elapsed=20, staged=True
    ) == pytest.approx(60.0)
    assert history.history_seconds_remaining(
        past, total=None, current=0, fraction=None, elapsed=20
    ) == pytest.approx(60.0)


def test_no_past_runs_no_history_eta():
    assert (
        history.history_seconds_remaining([], total=10, current=0, fraction=0.0, elapsed=0) is None
    )


# --- from the table -------------------------------------------------------------------


def completed(name, seconds, *, total=100, user=None, **kwargs):
    end = timezone.now()
    extra = {"created_by": user} if user is not None else {}
    return OperationProgressFactory(
        operation_name=name,
        status=Status.COMPLETED,
        total_items=total,
        current_item=total,
        started_at=end - timedelta(seconds=seconds),
        completed_at=end,
        **extra,
        **kwargs,
    )


@pytest.mark.django_db
def test_typical_durations_use_each_operations_recent_completed_runs(user, other_user):
    for seconds in (10, 20, 30):
        completed("gene_import", seconds, user=user)
    completed("scoring", 5, user=user)
    completed("scoring", 500, user=other_user)
    OperationProgressFactory(operation_name="scoring", status=Status.FAILED, created_by=user)
    assert history.typical_durations() == {"gene_import": 20.0, "scoring": 252.5}
    mine = OperationProgress.objects.visible_to(user)
    assert history.typical_durations(mine) == {"gene_import": 20.0, "scoring": 5.0}


@pytest.mark.django_db
def test_typical_rates_are_items_per_second_of_recent_completed_runs(user):
    for seconds in (10, 20, 40):
        completed("gene_import", seconds, total=200, user=user)
    assert history.typical_rates() == {"gene_import": 10.0}


@pytest.mark.django_db
def test_a_big_run_at_the_usual_rate_is_not_slower_than_usual(user):
    for _ in range(3):
        completed("gene_import", 1, total=100, user=user)
    big = completed("gene_import", 2000, total=200_000, user=user)
    data = history.run_history(big)
    assert data["slower_than_usual"] is False  # 2,000 s where others took 1 s, at their rate
    assert data["typical_rate"] == pytest.approx(100.0)


@pytest.mark.django_db
def test_run_history_reports_average_rate_duration_and_slowness(user):
    for seconds in (10, 10, 10):
        completed("gene_import", seconds, user=user)
    slow = completed("gene_import", 100, user=user, samples=[[0, 0, 0.0], [100, 100, 100.0]])
    data = history.run_history(slow)
    assert data["duration_seconds"] == pytest.approx(100.0)
    assert data["average_rate"] == pytest.approx(1.0)
    assert data["typical_duration_seconds"] == pytest.approx(10.0)
    assert data["slower_than_usual"] is True
    assert data["samples"] == [[0, 0, 0.0], [100, 100, 100.0]]


class NullPublisher:
    def publish(self, groups, message):
        pass


@pytest.fixture
def quiet(monkeypatch):
    monkeypatch.setattr("progress.publish.broadcast.get_publisher", lambda: NullPublisher())


@pytest.mark.django_db(transaction=True)
def test_a_new_run_takes_its_eta_from_past_runs_until_warmed_up(fast_progress, quiet):
    fast_progress["ETA_SMOOTHING_SECONDS"] = 3600.0  # never warms up during the test
    for _ in range(3):
        completed("etl", 100, total=1000)  # 10 items/s
    with track_operation("etl", total_items=1000) as tracker:
        eventually(lambda: tracker._past is not None and tracker._past.done())
        tracker.update(current_item=500, force=True)
        get_writer().drain()
        saved = OperationProgress.objects.get(pk=tracker.id)
        assert saved.metadata["eta_source"] == "history"
        left = (saved.estimated_completion - timezone.now()).total_seconds()
        assert 45 < left <= 50  # 500 items at 10/s
    assert "eta_source" not in OperationProgress.objects.get(pk=tracker.id).metadata


@pytest.mark.django_db(transaction=True)
def test_without_past_runs_the_eta_is_live(fast_progress, quiet):
    with track_operation("first ever", total_items=100) as tracker:
        eventually(lambda: tracker._past is not None and tracker._past.done())
        tracker.update(current_item=1, force=True)
        eventually(lambda: tracker.estimated_completion is not None)
        tracker.update(current_item=2, force=True)
        assert tracker.metadata["eta_source"] == "live"


@pytest.mark.django_db(transaction=True)
def test_a_finished_run_keeps_its_samples(fast_progress, quiet):
    with track_operation("sampled", total_items=50) as tracker:
        for i in range(1, 51):
            tracker.update(current_item=i, force=True)
    samples = OperationProgress.objects.get(pk=tracker.id).samples
    assert 2 <= len(samples) <= history.MAX_SAMPLES
    assert samples[0][1] == 0 and samples[-1][1:] == [50, 100.0]
    elapsed = [s[0] for s in samples]
    assert elapsed == sorted(elapsed)


def api(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db
def test_the_api_serves_a_runs_history_and_typical_durations(user, other_user):
    completed("gene_import", 10, user=user)
    run = completed("gene_import", 30, user=user, samples=[[0, 0, 0.0], [30, 100, 100.0]])
    completed("secret_op", 10, user=other_user)
    data = api(user).get(f"/api/v1/operations/{run.pk}/history/").json()
    assert data["samples"] == [[0, 0, 0.0], [30, 100, 100.0]]
    assert data["average_rate"] == pytest.approx(3.333, abs=0.01)
    assert data["typical_duration_seconds"] == pytest.approx(10.0)
    assert data["slower_than_usual"] is True
    assert api(other_user).get(f"/api/v1/operations/{run.pk}/history/").status_code == 404
    durations = api(user).get("/api/v1/operations/typical-durations/").json()["durations"]
    assert durations == {"gene_import": 20.0}
