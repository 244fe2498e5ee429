"""Display rules written in both Python (pages without JavaScript, the admin) and JS
(format.js, the live pages) give the same text: a row never changes its words when the
socket takes over."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from progress.admin import percent_value
from progress.models import Status
from progress.runtime.history import is_much_slower
from progress.web.listing import counts_text, duration_text, result_text

JS = Path(__file__).parent / "js"
DURATIONS = [1, 1.5, 42, 59, 60, 61, 305, 3599, 3600, 3661, 7800, 86399, 86400, 90061, 10**6]
PERCENTAGES = [None, 0, 0.4, 1, 42.9, 99.99, 100, 100.5, -3]
STAGE = {"name": "score", "index": 3, "count": 4, "unit": "curations"}
COUNTS = [
    {"status": Status.COMPLETED, "items_unchanged": 288},
    {"status": Status.COMPLETED},
    {
        "status": Status.COMPLETED,
        "items_added": 1200,
        "items_updated": 1,
        "items_unchanged": 60,
        "items_skipped": 3,
        "items_failed": 5,
    },
    {
        "status": Status.CANCELLED,
        "current_item": 0,
        "total_items": 276,
        "metadata": {"stage": STAGE},
    },
    {
        "status": Status.CANCELLED,
        "current_item": 5,
        "total_items": None,
        "metadata": {"stage": STAGE},
    },
]
# [a running run's rate, its operation's typical rate]
SLOWNESS = [[4.9, 10], [5.0, 10], [5.1, 10], [None, 10], [1, None], [0, 10], [1000, 1000]]


@pytest.mark.service
def test_durations_percentages_counts_and_slowness_read_the_same_in_python_and_js():
    node = shutil.which("node")
    assert node, "node is needed for the JS client's tests (apt-get install -y nodejs)"
    result = subprocess.run(
        [node, "--import", str(JS / "setup.mjs"), str(JS / "format-cli.mjs")],
        input=json.dumps(
            {
                "durations_s": DURATIONS,
                "percentages": PERCENTAGES,
                "counts": COUNTS,
                "slowness": SLOWNESS,
            }
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    js = json.loads(result.stdout)
    assert js["durations"] == [duration_text(s) for s in DURATIONS]
    assert js["percentages"] == [percent_value(p) for p in PERCENTAGES]
    assert js["counts"] == [counts_text(data) for data in COUNTS]
    assert js["results"] == [result_text(data) for data in COUNTS]
    assert js["slowness"] == [is_much_slower(rate, typical) for rate, typical in SLOWNESS]
