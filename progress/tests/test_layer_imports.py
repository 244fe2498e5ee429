"""The channel layer is transport: it imports without Django set up, as channels-redis' does."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.service
def test_the_layer_module_imports_without_django_settings():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = (
        "import sys; import progress.layers as layers; "
        "assert 'progress.models' not in sys.modules and 'django.db' not in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith(('progress', 'django'))); "
        "print(layers.BoundedRedisPubSubChannelLayer.__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "BoundedRedisPubSubChannelLayer"


def test_the_protocols_event_types_cover_every_status_and_only_those():
    from progress.models import ACTIVE_STATUSES, Status
    from progress.protocol import EVENT_TYPES, LIVE_EVENT

    assert set(EVENT_TYPES) == set(Status.values)
    assert {s for s, kind in EVENT_TYPES.items() if kind == LIVE_EVENT} == set(ACTIVE_STATUSES)
