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
from progress.web.listing import duration_text

JS = Path(__file__).parent / "js"
DURATIONS = [1, 1.5, 42, 59, 60, 61, 305, 3599, 3600, 3661, 7800, 86399, 86400, 90061, 10**6]
PERCENTAGES = [None, 0, 0.4, 1, 42.9, 99.99, 100, 100.5, -3]


@pytest.mark.service
def test_durations_and_percentages_read_the_same_in_python_and_format_js():
    node = shutil.which("node")
    assert node, "node is needed for the JS client's tests (apt-get install -y nodejs)"
    result = subprocess.run(
        [node, "--import", str(JS / "setup.mjs"), str(JS / "format-cli.mjs")],
        input=json.dumps({"durations_s": DURATIONS, "percentages": PERCENTAGES}),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    js = json.loads(result.stdout)
    assert js["durations"] == [duration_text(s) for s in DURATIONS]
    assert js["percentages"] == [percent_value(p) for p in PERCENTAGES]
