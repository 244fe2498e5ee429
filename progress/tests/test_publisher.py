"""The publisher against an in-memory fake layer: coalescing, retry, outage logged once each way."""

from __future__ import annotations

import asyncio
import logging

import pytest
from channels.layers import InMemoryChannelLayer

from progress.protocol import MAX_FRAME_BYTES
from progress.publish import publisher as publisher_module
from progress.publish.publisher import Publisher
from progress.tests.waiting import aeventually

GROUPS = ("progress.all", "progress.op.1")


class FakeLayer(InMemoryChannelLayer):
    """Records group sends; fails while down."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, int, int]] = []
        self.attempts = 0
        self.refused_runs: set[int] = set()
        self.down = False

    async def group_send(self, group, message):
        self.attempts += 1
        if self.down:
            self.refused_runs.add(message["id"])
            raise ConnectionError("Redis is down")
        self.sent.append((group, message["id"], message["seq"]))


def message(run_id: int, seq: int, text: str = "{}") -> dict:
    return {"type": "progress.event", "id": run_id, "seq": seq, "text": text}


@pytest.fixture
def layer(monkeypatch):
    fake = FakeLayer()
    monkeypatch.setattr(publisher_module, "get_channel_layer", lambda alias=None: fake)
    monkeypatch.setattr(publisher_module, "RETRY_DELAY", 0.01)
    return fake


@pytest.fixture
async def publisher(layer):
    """A publisher that sends from this test's loop: nothing is sent until the test awaits."""
    publisher = Publisher()
    publisher.attach_server_loop(asyncio.get_running_loop())
    return publisher


async def flushed(publisher: Publisher) -> None:
    assert await asyncio.to_thread(publisher.flush, 2.0)


async def test_only_the_newest_waiting_state_of_a_run_is_sent(publisher, layer):
    for seq in (1, 2, 3):
        publisher.publish(GROUPS, message(1, seq))
    publisher.publish(("progress.all",), message(2, 1))
    await flushed(publisher)
    assert layer.sent == [
        ("progress.all", 1, 3),
        ("progress.op.1", 1, 3),
        ("progress.all", 2, 1),
    ]
    assert publisher.last_sent == {1: 3, 2: 1}


async def test_an_older_state_never_replaces_a_newer_waiting_one(publisher, layer):
    publisher.publish(GROUPS, message(1, 5))
    publisher.publish(GROUPS, message(1, 4))
    await flushed(publisher)
    assert {seq for _, _, seq in layer.sent} == {5}


async def test_a_failed_send_is_retried_with_the_newest_state(publisher, layer, caplog):
    layer.down = True
    publisher.publish(GROUPS, message(1, 1))
    await aeventually(lambda: layer.attempts > 0)
    publisher.publish(GROUPS, message(1, 2))  # arrives while the layer is down
    await aeventually(lambda: layer.attempts > 2)  # retried, still down
    layer.down = False
    await flushed(publisher)
    assert [seq for _, _, seq in layer.sent] == [2, 2]
    assert not publisher.down


async def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    publisher, layer, caplog
):
    caplog.set_level(logging.WARNING, logger="progress.publish.publisher")
    layer.down = True
    publisher.publish(GROUPS, message(1, 1))
    await aeventually(lambda: layer.attempts >= 4)  # several failed retries
    assert publisher.down
    layer.down = False
    await flushed(publisher)
    publisher.publish(GROUPS, message(1, 2))
    await flushed(publisher)
    levels = [(r.levelname, r.getMessage().split(" (")[0]) for r in caplog.records]
    assert levels == [
        ("ERROR", "Broadcasting progress is down"),
        ("WARNING", "Broadcasting progress recovered; pending states were sent."),
    ]


async def test_a_frame_over_the_limit_is_refused_and_logged(publisher, layer, caplog):
    publisher.publish(GROUPS, message(1, 1, text="x" * (MAX_FRAME_BYTES + 1)))
    await flushed(publisher)
    assert layer.sent == []
    assert "over MAX_FRAME_BYTES" in caplog.text


async def test_when_the_layer_is_down_the_other_runs_wait_for_the_retry(publisher, layer):
    layer.down = True
    publisher.publish(GROUPS, message(1, 1))
    publisher.publish(GROUPS, message(2, 1))
    await aeventually(lambda: layer.attempts >= 4)  # the first send and a few retries
    layer.down = False
    await flushed(publisher)
    # Not one failure (a timeout, with Redis) per run: the rest wait for the retry.
    assert layer.refused_runs == {1}
    assert {run for _, run, _ in layer.sent} == {1, 2}
