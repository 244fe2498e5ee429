"""Loaded before Django's settings (pyproject's addopts: -p tests.demo_environment).

The test process and the servers it starts serve the demo as `make run` does: DEBUG on, so
the demo SECRET_KEY is allowed (DEBUG is off when DJANGO_DEBUG is unset). Tests of the
production posture (tests/test_security.py) start processes with an environment of their own.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_DEBUG", "true")
