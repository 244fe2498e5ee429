"""The database relay (in-memory layer): other processes' runs, sent once per new seq."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from django.utils import timezone

from progress.publish.publisher import get_publisher
from progress.sockets.relay import DatabaseRelay
from progress.tests.factories import OperationProgressFactory

pytestmark = pytest.mark.django_db(transaction=True)


class RecordingLayer:
    def __init__(self):
        self.sent = []

    async def group_send(self, group, message):
        self.sent.append((group, message["id"], message["seq"]))


def relay_from_the_past(layer):
    relay = DatabaseRelay(layer)
    relay.since = timezone.now() - timedelta(minutes=1)
    return relay


async def test_a_changed_run_is_sent_to_its_groups_once(user):
    run = await asyncio.to_thread(OperationProgressFactory, created_by=user, seq=4)
    layer = RecordingLayer()
    relay = relay_from_the_past(layer)
    assert await relay.poll_once() == 1
    assert layer.sent == [
        ("progress.all", run.pk, 4),
        (f"progress.op.{run.pk}", run.pk, 4),
        (f"progress.user.{user.pk}", run.pk, 4),
    ]
    assert await relay.poll_once() == 0  # the look-back sees it again, at the same seq


async def test_a_newer_seq_of_a_relayed_run_is_sent_again():
    run = await asyncio.to_thread(OperationProgressFactory, created_by=None, seq=1)
    layer = RecordingLayer()
    relay = relay_from_the_past(layer)
    await relay.poll_once()
    run.seq, run.updated_at = 2, timezone.now()
    await asyncio.to_thread(run.save)
    assert await relay.poll_once() == 1
    assert [seq for _, _, seq in layer.sent] == [1, 1, 2, 2]


async def test_runs_this_process_published_itself_are_not_relayed(monkeypatch):
    run = await asyncio.to_thread(OperationProgressFactory, seq=7)
    monkeypatch.setitem(get_publisher().last_sent, run.pk, 7)
    layer = RecordingLayer()
    assert await relay_from_the_past(layer).poll_once() == 0
    assert layer.sent == []


async def test_runs_unchanged_since_the_last_poll_are_not_read():
    await asyncio.to_thread(
        OperationProgressFactory, updated_at=timezone.now() - timedelta(minutes=5)
    )
    layer = RecordingLayer()
    assert await DatabaseRelay(layer).poll_once() == 0
