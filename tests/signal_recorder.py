"""A project for worker processes in tests: progressproject plus a recorder of progress signals.

Start a process with DJANGO_SETTINGS_MODULE=tests.signal_recorder and SIGNAL_LOG=<file>: every
operation_started / operation_finished / operation_stalled it sends is appended to the file
as one JSON line {"signal", "id", "status", "pid"}, so a test can count them.
"""

from __future__ import annotations

import json
import os
from typing import Any

from django.apps import AppConfig

from progressproject.settings import *  # noqa: F403
from progressproject.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.signal_recorder.SignalRecorderConfig"]


class SignalRecorderConfig(AppConfig):
    name = "tests"
    label = "signal_recorder"

    def ready(self) -> None:
        from progress import signals

        for name in ("operation_started", "operation_finished", "operation_stalled"):
            getattr(signals, name).connect(_recorder(name), weak=False)


def _recorder(name: str) -> Any:
    def record(sender: Any, operation: Any, **kwargs: Any) -> None:
        line = {
            "signal": name,
            "id": operation.pk,
            "status": kwargs.get("status"),
            "pid": os.getpid(),
        }
        with open(os.environ["SIGNAL_LOG"], "a") as log:
            log.write(json.dumps(line) + "\n")

    return record
