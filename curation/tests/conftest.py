from __future__ import annotations

from pathlib import Path

from progress.tests.conftest import fast_progress  # noqa: F401

DATA = Path(__file__).parent / "data"
PANELS = Path(__file__).resolve().parents[2] / "data" / "kidney-panels"
