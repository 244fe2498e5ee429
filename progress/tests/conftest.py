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
