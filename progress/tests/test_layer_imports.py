"""The channel layer is transport: it imports without Django set up, as channels-redis' does."""

from __future__ import annotations

import os
import subprocess
import sys


def test_the_layer_module_imports_without_django_settings():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = (
        "import sys; import progress.layers as layers; "
        "assert 'django.db.models' not in sys.modules or not "
        "any(m.startswith('progress.models') for m in sys.modules); "
        "print(layers.BoundedRedisPubSubChannelLayer.__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "BoundedRedisPubSubChannelLayer"
