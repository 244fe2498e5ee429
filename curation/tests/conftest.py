from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
PANELS = Path(__file__).resolve().parents[2] / "data" / "kidney-panels"


@pytest.fixture
def fast_progress(settings):
    settings.PROGRESS = {
        "DB_INTERVAL": 0.05,
        "BROADCAST_INTERVAL": 0.0,
        "HEARTBEAT_INTERVAL": 0.5,
        "CANCEL_POLL_INTERVAL": 0.05,
    }
