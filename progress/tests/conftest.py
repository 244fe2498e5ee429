from __future__ import annotations

import pytest

from progress.tests.factories import StaffFactory, UserFactory

IN_MEMORY_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def fast_progress(settings):
    """Short intervals so tests run quickly; tests override single keys as needed."""
    settings.PROGRESS = {
        "DB_INTERVAL": 0.05,
        "BROADCAST_INTERVAL": 0.0,
        "HEARTBEAT_INTERVAL": 0.2,
        "CANCEL_POLL_INTERVAL": 0.05,
        "DB_POLL_INTERVAL": 0.1,
    }
    return settings.PROGRESS


@pytest.fixture
def in_memory_layer(settings):
    settings.CHANNEL_LAYERS = IN_MEMORY_LAYERS
    return settings.CHANNEL_LAYERS


@pytest.fixture
def user(transactional_db):
    return UserFactory()


@pytest.fixture
def other_user(transactional_db):
    return UserFactory()


@pytest.fixture
def staff(transactional_db):
    return StaffFactory()


class RecordingPublisher:
    """Stands in for the channel layer: records what is published, in order.

    on_publish(message), if set, runs at each publish (on the publishing thread).
    """

    def __init__(self):
        self.messages = []
        self.logs = []
        self.on_publish = None

    def publish(self, groups, message):
        if self.on_publish is not None:
            self.on_publish(message)
        self.messages.append((groups, message))

    def publish_log(self, group, message):
        self.logs.append((group, message))

    def types(self):
        return [m["text"].split('"type":"')[1].split('"')[0] for _, m in self.messages]

    def of(self, run_id):
        return [m for _, m in self.messages if m["id"] == run_id]


@pytest.fixture
def recording_publisher(monkeypatch):
    recorder = RecordingPublisher()
    monkeypatch.setattr("progress.publish.broadcast.get_publisher", lambda: recorder)
    return recorder


@pytest.fixture
def published(recording_publisher):
    """The same recorder, under the name the tracker and log tests read best with."""
    return recording_publisher
