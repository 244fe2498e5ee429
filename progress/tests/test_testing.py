"""progress.testing: what a project's tests use to watch its tracked work."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async

from progress import testing
from progress.models import OperationProgress, Status
from progress.protocol import CLOSE_UNAUTHENTICATED
from progress.tracker import track_operation

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fast_progress", "in_memory_layer"),
]


def run_in_thread(name: str, items: int, go: threading.Event, user) -> threading.Thread:
    def work() -> None:
        go.wait(5)
        with track_operation(name, total_items=items, user=user) as tracker:
            for _ in tracker.track(range(items)):
                pass

    thread = threading.Thread(target=work)
    thread.start()
    return thread


async def test_a_logged_in_socket_gets_the_snapshot_then_the_runs_final_state(user):
    socket, accepted = await testing.connect(user=user)
    assert accepted
    assert (await testing.receive_json(socket))["type"] == "snapshot"
    go = threading.Event()
    thread = await asyncio.to_thread(run_in_thread, "testing_run", 20, go, user)
    go.set()
    messages = await testing.receive_until(socket, lambda m: m["type"] == "task_completed")
    assert messages[-1]["data"]["current_item"] == 20
    await asyncio.to_thread(thread.join, 5)
    await socket.disconnect()


async def test_an_anonymous_socket_is_closed_as_not_signed_in():
    socket, accepted = await testing.connect()
    assert accepted  # accepted, then closed with the reason, which browsers can read
    assert (await socket.receive_output(5))["code"] == CLOSE_UNAUTHENTICATED
    await socket.disconnect()


def test_flush_leaves_nothing_pending_so_the_table_holds_the_latest_counts(user):
    with track_operation("flushed", total_items=100, user=user) as tracker:
        tracker.update(current_item=37)
        testing.flush()
        row = OperationProgress.objects.get(pk=tracker.id)
        assert (row.status, row.current_item) == (Status.RUNNING, 37)
    testing.flush()
    assert OperationProgress.objects.get(pk=tracker.id).status == Status.COMPLETED


def test_eventually_returns_the_first_true_value_and_fails_after_its_timeout():
    values = iter([0, None, "", "found", "later"])
    assert testing.eventually(lambda: next(values), timeout=1, step=0) == "found"
    with pytest.raises(AssertionError, match=r"not true within 0\.05 s"):
        testing.eventually(lambda: False, timeout=0.05)


async def test_aeventually_waits_without_blocking_the_loop():
    flag = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, flag.set)
    assert await testing.aeventually(flag.is_set, timeout=2) is True


async def test_the_session_cookie_names_the_projects_session_cookie(settings, user):
    settings.SESSION_COOKIE_NAME = "host_session"
    cookie = await sync_to_async(testing.session_cookie)(user)
    assert cookie.startswith(b"host_session=")
