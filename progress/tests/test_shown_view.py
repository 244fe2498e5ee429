"""ws/progress/?view=shown: a page receives the runs it shows, and a summary of the rest."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from progress import protocol
from progress.models import Status
from progress.sockets.fanout import fanout_for
from progress.tests.factories import OperationProgressFactory
from progress.tests.wsutil import open_socket, receive, receive_frames_until
from progress.tracker import track_operation

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("in_memory_layer", "fast_progress"),
]
SHOWN = "/ws/progress/?view=shown"


@pytest.fixture
def quick_summaries(settings):
    settings.PROGRESS = {**settings.PROGRESS, "SOCKET_SUMMARY_INTERVAL": 0.05}


def running(user, name="job"):
    return OperationProgressFactory(
        created_by=user, operation_name=name, status=Status.RUNNING, total_items=100
    )


def queued(user):
    """A run a tracker in this test will start (track_operation(operation_id=...))."""
    return OperationProgressFactory(created_by=user, status=Status.QUEUED, seq=0, current_item=0)


def advance(run_id: int, items: int) -> None:
    """Move a run on from this process, as its tracker would (a new seq each time)."""
    with track_operation("job", operation_id=run_id, total_items=100) as tracker:
        for item in range(1, items + 1):
            tracker.update(current_item=item)


async def show(communicator, runs, **extra) -> dict:
    """Send a show message and return the snapshot that answers it."""
    await communicator.send_json_to({"type": "show", "runs": runs, **extra})
    frames = await receive_frames_until(communicator, lambda m: m["type"] in ("snapshot", "error"))
    return json.loads(frames[-1])


async def open_shown(user):
    communicator, accepted = await open_socket(SHOWN, user)
    assert accepted
    first = await receive(communicator)
    assert (first["type"], first["operations"]) == ("snapshot", [])  # nothing shown yet
    return communicator


def run_ids_in(frames: list[str]) -> set[int]:
    ids = set()
    for text in frames:
        message = json.loads(text)
        events = message.get("events", [message])
        ids |= {event["data"]["id"] for event in events if "data" in event}
        ids |= {op["id"] for op in message.get("operations", [])}
    return ids


async def test_a_shown_socket_receives_the_runs_it_shows_and_no_other(staff, user):
    shown, hidden = [await sync_to_async(queued)(user) for _ in range(2)]
    communicator = await open_shown(staff)
    snapshot = await show(communicator, [shown.pk])
    assert [op["id"] for op in snapshot["operations"]] == [shown.pk]

    await asyncio.to_thread(advance, hidden.pk, 5)
    await asyncio.to_thread(advance, shown.pk, 5)
    frames = await receive_frames_until(
        communicator, lambda m: m["type"] == "task_completed" and m["data"]["id"] == shown.pk
    )
    assert run_ids_in(frames) == {shown.pk}
    # The process follows the shown run's own group, not every run's.
    groups = set(fanout_for(get_channel_layer()).feeds)
    assert groups == {f"progress.op.{shown.pk}"}
    await communicator.disconnect()


async def test_showing_other_runs_moves_the_subscription(staff, user):
    first, second = [await sync_to_async(queued)(user) for _ in range(2)]
    communicator = await open_shown(staff)
    await show(communicator, [first.pk])
    snapshot = await show(communicator, [second.pk])  # the next page
    assert [op["id"] for op in snapshot["operations"]] == [second.pk]

    await asyncio.to_thread(advance, first.pk, 3)
    await asyncio.to_thread(advance, second.pk, 3)
    frames = await receive_frames_until(
        communicator, lambda m: m["type"] == "task_completed" and m["data"]["id"] == second.pk
    )
    assert run_ids_in(frames) == {second.pk}
    assert set(fanout_for(get_channel_layer()).feeds) == {f"progress.op.{second.pk}"}
    await communicator.disconnect()


async def test_a_user_cannot_show_another_users_run(user, other_user):
    theirs = await sync_to_async(queued)(other_user)
    communicator = await open_shown(user)
    snapshot = await show(communicator, [theirs.pk])
    assert snapshot["operations"] == []
    await asyncio.to_thread(advance, theirs.pk, 2)
    assert await communicator.receive_nothing(timeout=0.5)
    assert not fanout_for(get_channel_layer()).feeds
    await communicator.disconnect()


async def summaries_until(communicator, predicate) -> dict:
    frames = await receive_frames_until(
        communicator, lambda m: m["type"] == "summary" and predicate(m)
    )
    return json.loads(frames[-1])


@pytest.mark.usefixtures("quick_summaries")
async def test_a_new_run_matching_the_filters_raises_the_count(staff, user):
    old = await sync_to_async(running)(user, "gene_import")
    communicator = await open_shown(staff)
    await show(
        communicator, [old.pk], filters={"status": "", "q": "", "failures": False}, since=old.pk
    )
    first = await summaries_until(communicator, lambda m: True)
    assert (first["active"]["running"], first["new"], first["ids"]) == (1, 0, [])

    new = await sync_to_async(running)(user, "gene_import")
    summary = await summaries_until(communicator, lambda m: m["new"] == 1)
    assert (summary["ids"], summary["active"]["running"], summary["more"]) == ([new.pk], 2, False)
    await communicator.disconnect()


@pytest.mark.usefixtures("quick_summaries")
async def test_a_new_run_outside_the_filters_is_not_counted(staff, user):
    communicator = await open_shown(staff)
    await show(communicator, [], filters={"status": "", "q": "import", "failures": False}, since=0)
    await summaries_until(communicator, lambda m: m["new"] == 0)
    await sync_to_async(running)(user, "scoring")  # does not match "import"
    matching = await sync_to_async(running)(user, "gene_import")
    summary = await summaries_until(communicator, lambda m: m["new"] > 0)
    assert summary["ids"] == [matching.pk]
    await communicator.disconnect()


@pytest.mark.usefixtures("quick_summaries")
async def test_summaries_count_only_what_the_user_may_see(user, other_user):
    communicator = await open_shown(user)
    await show(communicator, [], filters={}, since=0)
    await sync_to_async(running)(other_user)
    mine = await sync_to_async(running)(user)
    summary = await summaries_until(communicator, lambda m: m["new"] > 0)
    assert (summary["ids"], summary["active"]["running"]) == ([mine.pk], 1)
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("message", "fix"),
    [
        ({"runs": "1,2"}, 'show needs "runs": a list of run ids'),
        ({"runs": [1, True]}, 'show needs "runs": a list of run ids'),
        ({"runs": list(range(1, 600))}, "show names 599 runs; at most 520 are allowed."),
        ({"runs": [], "since": "x"}, '"since" must be the newest run id'),
        ({"runs": [], "filters": []}, '"filters" must be an object'),
    ],
)
async def test_a_bad_show_gets_an_error_that_says_what_to_fix(user, message, fix):
    communicator = await open_shown(user)
    answer = await show(communicator, **message)
    assert answer["type"] == "error"
    assert fix in answer["message"]
    await communicator.disconnect()


async def test_show_is_not_a_message_of_the_all_runs_socket(user):
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)  # the snapshot
    await communicator.send_json_to({"type": "show", "runs": []})
    answer = await receive(communicator)
    assert answer == {
        "type": "error",
        "message": "Unknown message type 'show'; use 'ping' or 'resync'.",
    }
    await communicator.disconnect()


async def test_resync_on_a_shown_socket_answers_only_shown_runs(staff, user):
    shown, hidden = [await sync_to_async(running)(user) for _ in range(2)]
    communicator = await open_shown(staff)
    await show(communicator, [shown.pk])
    await communicator.send_json_to(
        {"type": "resync", "since": {str(shown.pk): -1, str(hidden.pk): -1}}
    )
    frames = await receive_frames_until(
        communicator, lambda m: m["type"] == protocol.FRAME_TYPES["resync"]
    )
    assert run_ids_in(frames) == {shown.pk}
    await communicator.disconnect()
