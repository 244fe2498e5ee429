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


async def test_concurrent_connects_with_one_visibility_share_one_load():
    shared = snapshots.SharedSnapshots()
    loads = 0

    async def load():
        nonlocal loads
        loads += 1
        await asyncio.sleep(0)
        return snapshots.EncodedSnapshot(frames=["f"], seqs={}, seed_frames=[])

    results = await asyncio.gather(*(shared.get(("all",), load) for _ in range(5)))
    assert loads == 1 and all(r.frames == ["f"] for r in results)
    await shared.get(("user", 1), load)
    assert loads == 2  # another visibility loads its own


async def test_a_broadcast_makes_the_next_connect_load_again():
    shared = snapshots.SharedSnapshots()
    shared.listening = True
    loads = 0

    async def load():
        nonlocal loads
        loads += 1
        return snapshots.EncodedSnapshot(frames=[str(loads)], seqs={}, seed_frames=[])

    assert (await shared.get(("all",), load)).frames == ["1"]
    assert (await shared.get(("all",), load)).frames == ["1"]  # reused while nothing changed
    shared.note_broadcast()
    assert (await shared.get(("all",), load)).frames == ["2"]
