"""The bounded wire format: summaries in frames, frames of at most 64 KiB, snapshots in parts."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from progress import protocol
from progress import serializers as wire
from progress.models import Status
from progress.publish import visibility
from progress.publish.broadcast import operation_broadcast
from progress.serializers import operation_data
from progress.tests.factories import OperationProgressFactory
from progress.tests.wsutil import open_socket, receive, receive_frames_until, receive_list
from progress.tracker import track_operation

KIB = 1024


def hostile_metadata() -> dict:
    """What one careless upload produced: 1.1 MB of row errors and a traceback."""
    return {
        "row_errors": [{"line": i, "value": "A" * 80_000, "reason": "bad"} for i in range(7)],
        "row_errors_total": 7,
        "traceback": "Traceback (most recent call last):\n" + "x" * 1_000_000,
        "parameters": {"file": "/srv/app/var/uploads/abc-panel.json", "scope": "kidney"},
        "report_path": "/srv/app/var/reports/run-1.csv",
        "stages": ["Import genes", "Score"],
        "stage": {"name": "Import genes", "index": 1, "count": 2},
        "stage_percentage": 40.0,
        "summary": {"added": 3, "note": "n" * 5000},
    }


# --- the summary -------------------------------------------------------------------------


def test_the_summary_keeps_counters_and_drops_details():
    summary = wire.metadata_summary(hostile_metadata())
    assert {"row_errors", "traceback", "parameters", "report_path"}.isdisjoint(summary)
    assert summary["detail_keys"] == ["parameters", "report_path", "row_errors", "traceback"]
    assert summary["row_errors_total"] == 7
    assert summary["stages"] == ["Import genes", "Score"]
    assert summary["stage"]["index"] == 1 and summary["stage_percentage"] == 40.0
    assert summary["summary"]["added"] == 3
    assert len(summary["summary"]["note"]) == wire.MAX_SUMMARY_TEXT


def test_the_summary_is_capped_in_bytes_and_names_what_it_dropped():
    metadata = {f"key{i}": ["v" * 150] * 40 for i in range(10)} | {"small": 1}
    summary = wire.metadata_summary(metadata)
    assert len(json.dumps(summary)) <= wire.MAX_SUMMARY_BYTES + 512
    assert summary["small"] == 1
    assert summary["truncated_keys"]


def test_the_summary_of_ten_thousand_keys_stays_small():
    summary = wire.metadata_summary({f"k{i}": i for i in range(10_000)})
    assert len(json.dumps(summary)) <= wire.MAX_SUMMARY_BYTES + 1024


def test_the_summary_hides_server_paths(settings):
    path = f"{settings.BASE_DIR}/var/uploads/abc-panel.json"
    summary = wire.metadata_summary({"note": f"read {path}", "source_path": path})
    assert str(settings.BASE_DIR) not in json.dumps(summary)
    assert summary["note"] == "read …/var/uploads/abc-panel.json"


def test_the_detail_for_staff_is_everything_and_for_others_has_no_traceback_or_paths():
    metadata = hostile_metadata() | {"row_errors": [{"line": 1, "value": "x", "reason": "bad"}]}
    metadata["traceback"] = "Traceback: boom"
    assert wire.metadata_detail(metadata, staff=True) == metadata
    owner = wire.metadata_detail(metadata, staff=False)
    assert "traceback" not in owner
    assert owner["parameters"] == {"file": "abc-panel.json", "scope": "kidney"}
    assert owner["report_path"] == "run-1.csv"
    assert owner["row_errors"] == metadata["row_errors"]


# --- frames ------------------------------------------------------------------------------


def test_an_event_frame_of_a_hostile_run_is_small(transactional_db):
    run = OperationProgressFactory(metadata=hostile_metadata(), error_message="E" * 500_000)
    frame = protocol.encode_event(operation_data(run))
    assert len(frame) <= 8 * KIB
    data = json.loads(frame)["data"]
    assert data["metadata"]["row_errors_total"] == 7
    assert len(data["error_message"]) == wire.MAX_FRAME_ERROR_TEXT


def test_a_run_too_big_to_encode_is_sent_without_metadata(caplog):
    data = {"id": 1, "seq": 1, "status": Status.RUNNING, "metadata": {"x": "y" * 100_000}}
    frame = protocol.encode_event(data)
    assert len(frame) <= protocol.MAX_FRAME_BYTES
    assert json.loads(frame)["data"]["metadata"] == {"truncated_keys": ["metadata"]}
    assert "over the" in caplog.text


def test_nan_is_never_sent_as_invalid_json():
    data = {"id": 1, "seq": 1, "status": Status.RUNNING, "rate": float("nan"), "metadata": {}}
    assert json.loads(protocol.encode_event(data))["data"]["rate"] is None


def test_a_long_list_is_split_into_numbered_frames_of_at_most_64_kib():
    runs = [{"id": i, "seq": 1, "pad": "p" * 2000} for i in range(300)]
    frames = [json.loads(text) for text in protocol.list_frames("snapshot", runs)]
    texts = protocol.list_frames("snapshot", runs)
    assert len(frames) > 5
    assert all(len(text) <= protocol.MAX_FRAME_BYTES for text in texts)
    assert [f["part"] for f in frames] == list(range(1, len(frames) + 1))
    assert {f["parts"] for f in frames} == {len(frames)}
    assert [op["id"] for f in frames for op in f["operations"]] == list(range(300))


def test_an_empty_list_is_one_frame():
    assert json.loads(protocol.list_frames("resync", [])[0]) == {
        "type": "resync",
        "part": 1,
        "parts": 1,
        "operations": [],
    }


# --- through the consumer ----------------------------------------------------------------


def consumer_test(test):
    """Through the real ASGI stack, with the in-memory layer and a real database."""
    return pytest.mark.django_db(transaction=True)(pytest.mark.usefixtures("in_memory_layer")(test))


@consumer_test
async def test_a_megabyte_of_metadata_never_closes_a_staff_socket(staff, user, fast_progress):
    watching, _ = await open_socket("/ws/progress/", staff)
    await receive(watching)
    run = await sync_to_async(OperationProgressFactory)(
        created_by=user, metadata=hostile_metadata()
    )

    def fail_run():
        run.status, run.seq, run.error_message = Status.FAILED, run.seq + 1, "ValueError: bad"
        run.save()
        operation_broadcast(run)

    await sync_to_async(fail_run)()
    frames = await receive_frames_until(watching, lambda m: m["type"] == "task_failed")
    assert all(len(text) <= protocol.MAX_FRAME_BYTES for text in frames)
    final = json.loads(frames[-1])["data"]
    assert (final["id"], final["metadata"]["row_errors_total"]) == (run.pk, 7)
    await watching.send_json_to({"type": "ping"})
    assert await receive(watching) == {"type": "pong"}  # still open
    await watching.disconnect()

    for path in ("/ws/progress/", f"/ws/progress/{run.pk}/"):
        fresh, _ = await open_socket(path, staff)
        runs, frames = await receive_list(fresh, "snapshot")
        assert run.pk in {op["id"] for op in runs}
        assert all(len(text) <= protocol.MAX_FRAME_BYTES for text in frames)
        await fresh.disconnect()


@consumer_test
async def test_a_tracked_run_with_200_kb_of_row_errors_sends_only_small_frames(
    staff, user, fast_progress
):
    watching, _ = await open_socket("/ws/progress/", staff)
    await receive(watching)

    def hostile_run():
        with pytest.raises(ValueError), track_operation("hostile", total_items=7, user=user) as t:
            t.metadata["row_errors"] = [
                {"line": i, "value": "A" * 30_000, "reason": "bad"} for i in range(7)
            ]
            t.metadata["row_errors_total"] = 7
            t.update(current_item=7, items_failed=7, force=True)
            raise ValueError("the file is broken")

    await asyncio.to_thread(hostile_run)
    frames = await receive_frames_until(watching, lambda m: m["type"] == "task_failed")
    assert max(len(text) for text in frames) <= 16 * KIB
    assert json.loads(frames[-1])["data"]["metadata"]["row_errors_total"] == 7
    await watching.send_json_to({"type": "ping"})
    assert await receive(watching) == {"type": "pong"}
    await watching.disconnect()


@consumer_test
async def test_a_snapshot_of_300_runs_arrives_in_parts_of_at_most_64_kib(staff, user):
    metadata = {"summary": {"note": "n" * 150, "more": "m" * 150}, "stages": ["a", "b"]}
    await sync_to_async(OperationProgressFactory.create_batch)(
        300, created_by=user, metadata=metadata
    )
    communicator, _ = await open_socket("/ws/progress/", staff)
    runs, frames = await receive_list(communicator, "snapshot")
    assert len(frames) >= 3
    assert all(len(text) <= protocol.MAX_FRAME_BYTES for text in frames)
    assert len({op["id"] for op in runs}) == 300
    await communicator.send_json_to({"type": "resync", "since": {}})
    resynced, resync_frames = await receive_list(communicator, "resync")
    assert len(resync_frames) >= 3 and len(resynced) == 300
    await communicator.disconnect()


@consumer_test
async def test_an_oversized_event_is_dropped_and_the_socket_stays_open(staff, caplog):
    communicator, _ = await open_socket("/ws/progress/", staff)
    await receive(communicator)
    huge = {"type": protocol.LAYER_EVENT, "id": 1, "seq": 1, "text": "x" * (65 * KIB)}
    await get_channel_layer().group_send(visibility.ALL_GROUP, huge)
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.send_json_to({"type": "ping"})
    assert await receive(communicator) == {"type": "pong"}
    assert "over MAX_FRAME_BYTES" in caplog.text
    await communicator.disconnect()


# --- the run's title (issue 24) ----------------------------------------------------------


@pytest.fixture
def sheep_pipeline(monkeypatch):
    """A registry holding one pipeline, "sheep_count" titled "Count sheep"."""
    from rest_framework import serializers as drf

    from progress import pipelines

    monkeypatch.setattr(pipelines, "_registry", {})
    pipelines.register(
        pipelines.Pipeline(
            name="sheep_count", title="Count sheep", task=None, parameters=drf.Serializer
        )
    )


def test_a_run_is_titled_by_its_pipeline_and_keeps_its_machine_name(sheep_pipeline):
    data = operation_data(OperationProgressFactory.build(id=1, operation_name="sheep_count"))
    assert data["title"] == "Count sheep"
    assert data["operation_name"] == "sheep_count"


def test_a_run_started_by_a_pipeline_takes_its_title_whatever_its_operation_name(sheep_pipeline):
    run = OperationProgressFactory.build(
        id=2, operation_name="count", metadata={"pipeline": "sheep_count"}
    )
    assert operation_data(run)["title"] == "Count sheep"


def test_a_run_no_pipeline_names_is_titled_by_its_operation_name(sheep_pipeline):
    run = OperationProgressFactory.build(id=3, operation_name="title_demo")
    assert operation_data(run)["title"] == "title_demo"
