"""The one broadcast path: a row serialised once into its groups' layer message."""

from __future__ import annotations

import json

import pytest

from progress.models import OperationProgress, Status
from progress.protocol import LAYER_EVENT
from progress.publish.broadcast import operation_broadcast, operation_send, state_message


def unsaved_run(**fields):
    return OperationProgress(
        pk=4, operation_name="import", status=Status.RUNNING, created_by_id=2, seq=9, **fields
    )


def test_a_state_goes_to_the_all_run_and_owner_groups_as_one_encoded_frame():
    groups, message = state_message(unsaved_run(current_item=3))
    assert groups == ("progress.all", "progress.op.4", "progress.user.2")
    assert (message["type"], message["id"], message["seq"]) == (LAYER_EVENT, 4, 9)
    frame = json.loads(message["text"])
    assert frame["type"] == "progress_update"
    assert frame["data"]["current_item"] == 3


def test_a_run_without_owner_skips_the_user_group():
    groups, _ = state_message(
        OperationProgress(pk=4, operation_name="cron", status=Status.COMPLETED, seq=1)
    )
    assert groups == ("progress.all", "progress.op.4")


def test_a_run_that_cannot_be_serialised_is_logged_not_raised(recording_publisher, caplog):
    run = unsaved_run()
    run.status = "not-a-status"  # no event type for it
    operation_broadcast(run)
    assert recording_publisher.messages == []
    assert "Could not serialise run 4" in caplog.text


def test_broadcast_hands_the_message_to_the_publisher(recording_publisher):
    operation_broadcast(unsaved_run())
    assert [groups for groups, _ in recording_publisher.messages] == [
        ("progress.all", "progress.op.4", "progress.user.2")
    ]


@pytest.mark.asyncio
async def test_send_awaits_each_group_on_the_given_layer():
    class Layer:
        def __init__(self):
            self.sent = []

        async def group_send(self, group, message):
            self.sent.append((group, message["seq"]))

    layer = Layer()
    await operation_send(layer, unsaved_run())
    assert layer.sent == [("progress.all", 9), ("progress.op.4", 9), ("progress.user.2", 9)]
