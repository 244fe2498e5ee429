"""The wheel (issue 13): built from this tree and installed into a fresh virtualenv with an
example project that is not progressproject (example/: no REST_FRAMEWORK setting, the
channel layer under the alias "live"). There it migrates, passes `check`, runs a tracked
job, sees it finish over the WebSocket, and loads the list page and the API detail."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What the wheel is built from: the app and its packaging files, nothing of the project.
SOURCES = ["pyproject.toml", "LICENSE", "README.md", "progress"]
INSTALL_SECONDS = 300

pytestmark = pytest.mark.timeout(INSTALL_SECONDS + 300)


def run(*args: str | Path, cwd: Path, timeout: float = 120) -> str:
    """Run a command with a clean environment (nothing of this project's); its stdout."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def copy_sources(target: Path) -> Path:
    """The wheel's sources in a scratch folder, so the build leaves nothing in the tree."""
    target.mkdir()
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / name)
    return target


def pinned_constraints(target: Path) -> Path:
    """requirements.txt as pip constraints (no extras): the versions this tree is tested with."""
    pins = [
        re.sub(r"\[.*?\]", "", line.strip())
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    target.write_text("\n".join(pins) + "\n")
    return target


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """A folder of its own: pytest prunes old basetemp folders while other sessions run."""
    with tempfile.TemporaryDirectory(prefix="progress-wheel-") as folder:
        yield Path(folder)


@pytest.fixture(scope="module")
def installed(scratch: Path) -> tuple[Path, Path, dict[str, float]]:
    """(the venv's python, the example project's folder, seconds per step)."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    source = copy_sources(scratch / "source")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run(*pip, "wheel", "--no-deps", "-w", scratch / "dist", source, cwd=scratch)
    wheel = next((scratch / "dist").glob("django_progress_live-*.whl"))
    timings["build"] = time.monotonic() - started
    started = time.monotonic()
    run(sys.executable, "-m", "venv", scratch / "venv", cwd=scratch)
    python = scratch / "venv" / "bin" / "python"
    constraints = pinned_constraints(scratch / "constraints.txt")
    run(
        python, "-m", "pip", "install", "--disable-pip-version-check", "-c", constraints,
        f"{wheel}[testing]",
        cwd=scratch, timeout=INSTALL_SECONDS,
    )  # fmt: skip
    timings["install"] = time.monotonic() - started
    example = scratch / "example"
    shutil.copytree(ROOT / "example", example, ignore=shutil.ignore_patterns("__pycache__"))
    return python, example, timings


@pytest.mark.service
def test_the_wheel_holds_the_app_and_only_the_app(installed):
    python, example, _ = installed
    listing = run(
        python,
        "-c",
        "import importlib.metadata as m; print('\\n'.join(str(f) for f in "
        "m.files('django-progress-live')))",
        cwd=example,
    ).split()
    assert "progress/templates/progress/base.html" in listing
    assert "progress/static/progress/client.js" in listing
    assert "progress/migrations/0001_initial.py" in listing
    assert not [
        name
        for name in listing
        if name.startswith(("progress/tests", "progressproject", "curation", "tests/", "example"))
    ]
    where = run(python, "-c", "import progress; print(progress.__file__)", cwd=example)
    assert "site-packages" in where


@pytest.mark.service
def test_an_example_project_migrates_runs_a_tracked_job_and_sees_it_live(installed):
    python, example, timings = installed
    started = time.monotonic()
    run(python, "manage.py", "check", "--fail-level", "WARNING", cwd=example)
    run(python, "manage.py", "migrate", "--no-input", cwd=example)
    assert run(python, "smoke.py", cwd=example, timeout=180).strip().endswith("ok")
    timings["example"] = time.monotonic() - started
    print("packaging timings (s):", {step: round(s, 1) for step, s in timings.items()})
