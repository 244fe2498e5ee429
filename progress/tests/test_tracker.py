"""The tracker against the real database: counters, throttling, states, transactions."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
import time

import pytest
from django.db import connection, transaction

from progress.cancel import operation_cancel
from progress.models import IllegalTransition, OperationProgress, Status
from progress.runtime.policy import Written
from progress.runtime.writer import get_writer
from progress.tests.waiting import eventually
from progress.tracker import OperationCancelled, ProgressTracker, track_operation

pytestmark = pytest.mark.django_db(transaction=True)


def row(tracker):
    get_writer().drain()
    return OperationProgress.objects.get(pk=tracker.id)


row_of = row


def test_update_treats_zero_as_a_value(fast_progress, published):
    with track_operation("zeros", total_items=10) as tracker:
        tracker.update(current_item=5, items_failed=3, force=True)
        tracker.update(current_item=0, items_failed=0, force=True)
        saved = row(tracker)
        assert (saved.current_item, saved.items_failed) == (0, 0)
        assert saved.progress_percentage == 0.0


def test_percentage_follows_current_and_total(fast_progress, published):
    with track_operation("pct", total_items=8) as tracker:
        tracker.update(current_item=2, force=True)
        assert row(tracker).progress_percentage == 25.0
        tracker.update(total_items=4, force=True)
        assert row(tracker).progress_percentage == 50.0


def test_unknown_total_is_indeterminate_not_zero(fast_progress, published):
    with track_operation("indeterminate") as tracker:
        tracker.update(current_item=7, force=True)
        saved = row(tracker)
        assert saved.progress_percentage is None
        assert saved.is_indeterminate
        assert saved.estimated_completion is None
    assert row(tracker).status == Status.COMPLETED


def test_clean_exit_completes_with_final_counts(fast_progress, published):
    with track_operation("clean", total_items=3) as tracker:
        for i in range(1, 4):
            tracker.update(current_item=i, items_added=i)
    saved = row(tracker)
    assert saved.status == Status.COMPLETED
    assert (saved.current_item, saved.items_added, saved.progress_percentage) == (3, 3, 100.0)
    assert saved.completed_at is not None
    assert published.types()[-1] == "task_completed"


def test_exception_marks_failed_with_message_and_reraises(fast_progress, published):
    with pytest.raises(KeyError), track_operation("boom") as tracker:
        raise KeyError("HGNC:42")
    saved = row(tracker)
    assert saved.status == Status.FAILED
    assert saved.error_message == "KeyError: 'HGNC:42'"
    assert "Traceback" in saved.metadata["traceback"]
    assert published.types()[-1] == "task_failed"


def test_finished_run_never_changes_again(fast_progress, published):
    with track_operation("once") as tracker:
        pass
    with pytest.raises(IllegalTransition, match="finished runs never change"):
        tracker.error("too late")
    assert row(tracker).status == Status.COMPLETED


def test_database_writes_are_throttled_to_db_interval(settings, published):
    settings.PROGRESS = {"DB_INTERVAL": 30.0, "BROADCAST_INTERVAL": 0.0}
    with track_operation("throttled", total_items=1000) as tracker:
        for i in range(1, 500):
            tracker.update(current_item=i)
        # The newest state was broadcast (older unsent ones were coalesced away)...
        eventually(lambda: '"current_item":499,' in published.messages[-1][1]["text"])
        # ...but only the start was written.
        assert OperationProgress.objects.get(pk=tracker.id).current_item == 0
        tracker.update(current_item=500, force=True)
        assert row(tracker).current_item == 500


def test_broadcasts_are_throttled_to_broadcast_interval(settings, published):
    settings.PROGRESS = {"DB_INTERVAL": 30.0, "BROADCAST_INTERVAL": 60.0}
    with track_operation("quiet", total_items=1000) as tracker:
        for i in range(1, 1000):
            tracker.update(current_item=i)
        get_writer().drain()
        assert published.types() == ["progress_update"]  # the start, nothing else
    assert published.types() == ["progress_update", "task_completed"]


def test_seq_rises_on_every_published_change(fast_progress, published):
    with track_operation("seq", total_items=5) as tracker:
        for i in range(5):
            tracker.update(current_item=i)
    seqs = [m["seq"] for _, m in published.messages]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert row(tracker).seq == seqs[-1]


@pytest.mark.postgres  # SQLite allows no second writer while a transaction is open
def test_progress_is_live_inside_the_callers_transaction(fast_progress, published):
    seen_from_outside = []
    with (
        pytest.raises(RuntimeError),
        transaction.atomic(),
        track_operation("atomic", total_items=10) as tracker,
    ):
        tracker.update(current_item=4, force=True)
        get_writer().drain()

        # Another connection (another thread) sees progress the caller has not committed.
        def read_from_another_connection():
            try:
                seen = OperationProgress.objects.get(pk=tracker.id).current_item
                seen_from_outside.append(seen)
            finally:
                connection.close()

        reader = threading.Thread(target=read_from_another_connection)
        reader.start()
        reader.join()
        raise RuntimeError("scoring failed; rolling back")
    assert seen_from_outside == [4]
    saved = row(tracker)
    assert saved.status == Status.FAILED
    assert saved.error_message == "RuntimeError: scoring failed; rolling back"


@pytest.mark.postgres  # SQLite allows no second writer while a transaction is open
def test_rolled_back_operation_never_broadcasts_completed(fast_progress, published):
    with pytest.raises(ValueError), transaction.atomic(), track_operation("rb") as tracker:
        raise ValueError("bad row")
    assert "task_completed" not in published.types()
    assert published.types()[-1] == "task_failed"
    assert row(tracker).status == Status.FAILED


def test_final_state_is_not_broadcast_before_the_table_holds_it(
    fast_progress, published, monkeypatch
):
    writer = get_writer()
    original = writer._write
    writes_failing = threading.Event()
    writes_failing.set()

    def flaky_write(job):
        if writes_failing.is_set() and job.fields["status"] == Status.COMPLETED:
            writer.policy.write_started(job.handle.id)  # the database refused it
            return writer.policy.written(job.handle.id, Written.FAILED, final=True)
        return original(job)

    monkeypatch.setattr(writer, "_write", flaky_write)
    settings_timeout = {"FINAL_FLUSH_TIMEOUT": 0.3}
    fast_progress.update(settings_timeout)
    tracker = ProgressTracker.create("flaky")
    tracker.start()
    tracker.complete()  # times out waiting: the write keeps failing
    assert "task_completed" not in published.types()
    writes_failing.clear()  # the database is back: the retry writes, then broadcasts
    eventually(lambda: "task_completed" in published.types())
    assert published.types()[-1] == "task_completed"
    assert row(tracker).status == Status.COMPLETED


def test_cancel_requested_elsewhere_stops_at_next_item_boundary(fast_progress, published):
    started = threading.Event()
    result = {}

    def pipeline():
        with track_operation("cancellable", total_items=10_000) as tracker:
            result["id"] = tracker.id
            started.set()
            for i in range(10_000):
                tracker.raise_if_cancelled()
                tracker.update(current_item=i)
                time.sleep(0.001)

    worker = threading.Thread(target=pipeline)
    worker.start()
    assert started.wait(5)
    eventually(lambda: OperationProgress.objects.get(pk=result["id"]).current_item > 0)
    assert OperationProgress.objects.get(pk=result["id"]).request_cancel()
    worker.join(10)
    saved = OperationProgress.objects.get(pk=result["id"])
    assert saved.status == Status.CANCELLED
    assert 0 < saved.current_item < 10_000
    assert published.types()[-1] == "task_cancelled"


def test_a_cancel_made_in_the_runs_own_process_reaches_it_without_waiting_for_a_poll(
    published, settings
):
    settings.PROGRESS = {"CANCEL_POLL_INTERVAL": 60}  # a poll would take a minute
    tracker = ProgressTracker.create("cancel here")
    tracker.start(total_items=10)
    asked = time.monotonic()
    assert operation_cancel(OperationProgress.objects.get(pk=tracker.id))
    assert tracker.cancel_requested
    assert time.monotonic() - asked < 1
    tracker.update(current_item=1, force=True)
    get_writer().drain()
    assert json.loads(published.messages[-1][1]["text"])["data"]["cancel_requested"] is True
    with pytest.raises(OperationCancelled):
        tracker.raise_if_cancelled()
    tracker.cancel()
    assert row(tracker).status == Status.CANCELLED


def test_raise_if_cancelled_is_a_no_op_until_cancelled(fast_progress, published):
    tracker = ProgressTracker.create("x")
    tracker.start()
    tracker.raise_if_cancelled()
    tracker.cancel_requested = True
    with pytest.raises(OperationCancelled):
        tracker.raise_if_cancelled()
    tracker.cancel()


def test_heartbeat_beats_while_an_item_takes_long(fast_progress, published):
    with track_operation("slow item") as tracker:
        first = row(tracker).heartbeat_at
        # One long item, no update() calls: the heartbeat still moves.
        eventually(lambda: row(tracker).heartbeat_at > first)


def test_stalled_run_is_not_overwritten_by_its_late_tracker(fast_progress, published):
    with track_operation("zombie", total_items=10) as tracker:
        OperationProgress.objects.get(pk=tracker.id).mark_stalled()
        tracker.update(current_item=9, force=True)
        get_writer().drain()
        assert tracker.cancel_requested  # it learns it should stop
    saved = row(tracker)
    assert saved.status == Status.STALLED
    assert saved.current_item == 0


def test_stages_weight_overall_progress(fast_progress, published):
    with track_operation("pipeline") as tracker:
        tracker.set_stages([("import", 2), "validate", "score"])
        tracker.start_stage("import", total_items=10)
        tracker.update(current_item=5, force=True)
        assert row(tracker).progress_percentage == 25.0  # half of 2/4
        tracker.start_stage("validate", total_items=4)
        tracker.update(current_item=2, force=True)
        saved = row(tracker)
        assert saved.progress_percentage == 62.5  # 2/4 + half of 1/4
        assert saved.metadata["stage"] == {
            "name": "validate",
            "index": 2,
            "count": 3,
            "unit": "items",
        }
        assert saved.metadata["stage_percentage"] == 50.0


def test_unknown_stage_is_refused_with_the_known_ones(fast_progress, published):
    tracker = ProgressTracker.create("stages")
    tracker.set_stages(["a", "b"])
    with pytest.raises(ValueError, match=r"declare it first with set_stages\(\['a', 'b'\]\)"):
        tracker.start_stage("c")


def test_tracker_works_from_a_thread_without_event_loop(fast_progress, published):
    done = {}

    def job():
        with track_operation("threaded", total_items=3) as tracker:
            for i in range(1, 4):
                tracker.update(current_item=i, force=True)
            done["id"] = tracker.id

    thread = threading.Thread(target=job)
    thread.start()
    thread.join(10)
    assert OperationProgress.objects.get(pk=done["id"]).status == Status.COMPLETED
    # Nothing was lost for want of an event loop: the start and the final state went out.
    assert published.types()[0] == "progress_update"
    assert published.types()[-1] == "task_completed"
    assert '"current_item":3,' in published.messages[-1][1]["text"]


async def test_async_twins_track_a_run(fast_progress, published):
    from progress.tracker import atrack_operation

    async with atrack_operation("async", total_items=2) as tracker:
        await tracker.aupdate(current_item=1, force=True)
        await tracker.aupdate(current_item=2)
    # Read on the writer's connection: the test's own threads keep none open.
    saved = await asyncio.to_thread(
        get_writer().call, lambda: OperationProgress.objects.get(pk=tracker.id)
    )
    assert saved.status == Status.COMPLETED
    assert saved.current_item == 2


def test_the_last_updates_before_a_long_item_are_published_without_another_update(
    settings, published
):
    settings.PROGRESS = {"BROADCAST_INTERVAL": 0.3, "CANCEL_POLL_INTERVAL": 0.05}
    with track_operation("long item", total_items=10) as tracker:
        tracker.update(current_item=7)  # within the interval after start: not published yet
        assert '"current_item":7,' not in published.messages[-1][1]["text"]
        eventually(lambda: '"current_item":7,' in published.messages[-1][1]["text"])


def test_advance_adds_to_the_counters_like_tqdm(fast_progress, published):
    with track_operation("advance", total_items=10) as tracker:
        tracker.advance(added=1)
        tracker.advance(3, updated=2, failed=1)
        tracker.update(force=True)
        saved = row(tracker)
        assert (saved.current_item, saved.items_added, saved.items_updated) == (4, 1, 2)
        assert saved.items_failed == 1


def test_track_counts_each_item_once_its_body_ran_and_takes_the_total_from_len(
    fast_progress, published
):
    seen = []
    with track_operation("tracked loop") as tracker:
        for row in tracker.track(["a", "b", "c"]):
            seen.append((row, tracker.current_item))
        assert tracker.current_item == 3
        assert tracker.total_items == 3
    assert seen == [("a", 0), ("b", 1), ("c", 2)]  # counted after the body, not before
    assert row_of(tracker).current_item == 3


def test_track_without_len_keeps_the_total_unknown_unless_given(fast_progress, published):
    with track_operation("generator") as tracker:
        for _ in tracker.track(iter(range(4))):
            pass
        assert (tracker.current_item, tracker.total_items) == (4, None)
        for _ in tracker.track((n for n in range(2)), total=2):
            pass
        assert (tracker.current_item, tracker.total_items) == (6, 2)


def test_track_stops_between_items_once_a_cancel_is_requested(fast_progress, published):
    done = []
    with track_operation("cancelled loop") as tracker:
        for n in tracker.track(range(10)):
            done.append(n)
            if n == 2:
                tracker.cancel_requested = True  # what the writer's poll does
    assert done == [0, 1, 2]
    saved = row_of(tracker)
    assert (saved.status, saved.current_item) == (Status.CANCELLED, 3)


def test_an_item_whose_body_raised_is_not_counted(fast_progress, published):
    with pytest.raises(ValueError), track_operation("raising loop") as tracker:
        for n in tracker.track(range(5)):
            if n == 1:
                raise ValueError("bad row")
    assert row_of(tracker).current_item == 1


def test_an_attached_file_is_stored_listed_and_pruned_with_its_run(
    fast_progress, published, settings, tmp_path
):
    from django.core.management import call_command

    from progress import files

    settings.MEDIA_ROOT = tmp_path
    with track_operation("exporter") as tracker:
        name = tracker.attach_file("genes.csv", "hgnc_id,symbol\n1,A\n")
        second = tracker.attach_file("notes.txt", b"bytes too", kind="export")
    assert name.endswith(".csv") and "genes" not in name  # a random storage name
    with files.file_open(name) as handle:
        assert handle.read() == b"hgnc_id,symbol\n1,A\n"
    listed = row_of(tracker).metadata["files"]
    # Sizes in bytes, for the owner's MAX_STORED_BYTES_PER_USER.
    assert listed == [
        {"name": name, "label": "genes.csv", "kind": "report", "size": 19},
        {"name": second, "label": "notes.txt", "kind": "export", "size": 9},
    ]
    OperationProgress.objects.filter(pk=tracker.id).update(created_at="2000-01-01T00:00:00Z")
    call_command("prune_operations", "--older-than", "1d", stdout=io.StringIO())
    assert not OperationProgress.objects.filter(pk=tracker.id).exists()
    assert not files.storage().exists(name) and not files.storage().exists(second)


def test_prune_counts_runs_as_its_dry_run_does_not_their_log_lines(published):
    from django.core.management import call_command

    for n in range(3):
        with track_operation(f"old_{n}"):
            logging.getLogger("progress.tests.prune").warning("a line of run %d", n)
    get_writer().drain()
    OperationProgress.objects.update(created_at="2000-01-01T00:00:00Z")
    dry, real = io.StringIO(), io.StringIO()
    call_command("prune_operations", "--older-than", "1d", "--dry-run", stdout=dry)
    call_command("prune_operations", "--older-than", "1d", stdout=real)
    assert dry.getvalue().startswith("Would delete 3 finished run(s)")
    assert real.getvalue().startswith("Deleted 3 finished run(s)")
    assert not OperationProgress.objects.exists()
