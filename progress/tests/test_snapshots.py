"""The consumer's reads: snapshot and resync limited to what the user sees, shared snapshots."""

from __future__ import annotations

import asyncio

import pytest

from progress.models import Status
from progress.sockets import snapshots
from progress.tests.factories import OperationProgressFactory

pytestmark = pytest.mark.django_db(transaction=True)


def ids(operations):
    return {op["id"] for op in operations}


def test_a_snapshot_holds_the_users_active_and_recent_runs_only(user, other_user, settings):
    settings.PROGRESS = {"SNAPSHOT_RECENT": 1}
    active = OperationProgressFactory(created_by=user, status=Status.RUNNING)
    OperationProgressFactory(created_by=user, status=Status.COMPLETED)
    newest = OperationProgressFactory(created_by=user, status=Status.FAILED)
    OperationProgressFactory(created_by=other_user, status=Status.RUNNING)
    assert ids(snapshots.snapshot_for(user)) == {active.pk, newest.pk}


def test_a_single_run_snapshot_is_that_run_if_visible(user, other_user):
    mine = OperationProgressFactory(created_by=user)
    theirs = OperationProgressFactory(created_by=other_user)
    assert ids(snapshots.snapshot_for(user, operation_id=mine.pk)) == {mine.pk}
    assert snapshots.snapshot_for(user, operation_id=theirs.pk) == []
    assert snapshots.is_visible(user, mine.pk) and not snapshots.is_visible(user, theirs.pk)


def test_resync_returns_newer_runs_and_followed_runs_outside_the_window(user, settings):
    settings.PROGRESS = {"SNAPSHOT_RECENT": 0}
    held = OperationProgressFactory(created_by=user, status=Status.RUNNING, seq=5)
    newer = OperationProgressFactory(created_by=user, status=Status.RUNNING, seq=9)
    old = OperationProgressFactory(created_by=user, status=Status.COMPLETED, seq=3)
    since = {held.pk: 5, newer.pk: 8, old.pk: 2}
    assert ids(snapshots.newer_than(user, since)) == {newer.pk, old.pk}


def test_an_encoded_snapshot_knows_each_runs_seq(user):
    run = OperationProgressFactory(created_by=user, seq=12)
    snapshot = snapshots.encoded_snapshot(user)
    assert snapshot.seqs == {run.pk: 12}
    assert snapshot.frames[0].startswith('{"type":"snapshot","part":1,"parts":1,')


def loader():
    """A load that counts itself: its snapshot's one frame is its number."""
    loads = []

    async def load():
        loads.append(1)
        await asyncio.sleep(0)
        return snapshots.EncodedSnapshot(frames=[str(len(loads))], seqs={}, seed_frames=[])

    return load, loads


async def test_concurrent_connects_with_one_visibility_share_one_load():
    shared = snapshots.SharedSnapshots()
    load, loads = loader()
    results = await asyncio.gather(*(shared.get(("all",), load) for _ in range(5)))
    assert len(loads) == 1 and all(snapshot.frames == ["1"] for snapshot, _ in results)
    await shared.get(("user", 1), load)
    assert len(loads) == 2  # another visibility loads its own


async def test_a_snapshot_is_shared_for_the_share_time_then_loaded_again(settings, monkeypatch):
    settings.PROGRESS = {"SNAPSHOT_SHARE_SECONDS": 5}
    now = [1000.0]
    monkeypatch.setattr(snapshots, "monotonic", lambda: now[0])
    shared = snapshots.SharedSnapshots()
    load, _ = loader()
    first, started = await shared.get(("all",), load)
    now[0] += 4.9
    again, again_started = await shared.get(("all",), load)
    assert (first.frames, again.frames, again_started) == (["1"], ["1"], started)
    now[0] += 0.2  # 5.1 s after the load started
    assert (await shared.get(("all",), load))[0].frames == ["2"]


async def test_a_snapshot_older_than_the_sockets_feed_is_not_shared():
    shared = snapshots.SharedSnapshots()
    load, _ = loader()
    _, started = await shared.get(("all",), load)
    # The socket's feed was joined after that load began: states between are unknown to it.
    snapshot, newer = await shared.get(("all",), load, not_before=started + 0.001)
    assert snapshot.frames == ["2"] and newer > started
    assert (await shared.get(("all",), load, not_before=newer))[0].frames == ["2"]
