"""A real stack for end-to-end tests: daphne and db_worker processes on the test database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from progress.tests.subprocesses import ROOT, project_env
from progress.tests.waiting import eventually

ARTIFACTS = ROOT / "test-artifacts"
# Short intervals so end-to-end runs are quick; the defaults are documented in progress/conf.py.
FAST_PROGRESS = {
    "PROGRESS_DB_INTERVAL": "0.2",
    "PROGRESS_BROADCAST_INTERVAL": "0.1",
    "PROGRESS_HEARTBEAT_INTERVAL": "1",
    "PROGRESS_CANCEL_POLL_INTERVAL": "0.2",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    eventually(lambda: listening(port), timeout, step=0.05)


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 0.2):
            return True
    except OSError:
        return False


class LiveStack:
    """daphne (and optionally a db_worker) serving the test database through Redis."""

    def __init__(
        self,
        *,
        worker: bool = True,
        asgi: str = "progressproject.asgi:application",
        **extra_env: str,
    ) -> None:
        self.asgi = asgi
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = project_env(redis=True, TASKS_BACKEND="db", **{**FAST_PROGRESS, **extra_env})
        self.daphne: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.logs = ARTIFACTS / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.start_daphne()
        if worker:
            self.worker = self._spawn("worker", "manage.py", "db_worker", "--interval", "0.1")

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}-{self.port}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=self.env, stdout=log, stderr=log
        )

    def start_daphne(self) -> None:
        self.daphne = self._spawn(
            "daphne",
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(self.port),
            self.asgi,
        )
        wait_for_port(self.port)

    def kill_daphne(self) -> None:
        """Kill the server abruptly, as a crash or redeploy would."""
        assert self.daphne is not None
        self.daphne.kill()
        self.daphne.wait(10)

    def command(self, *args: str, log: str = "command") -> subprocess.Popen[bytes]:
        return self._spawn(log, "manage.py", *args)

    def log_text(self, name: str) -> str:
        return (self.logs / f"{name}-{self.port}.log").read_text()

    def extra_daphne(self) -> tuple[subprocess.Popen[bytes], str]:
        """Another daphne process on its own port, sharing the database and Redis."""
        port = free_port()
        process = self._spawn(
            f"daphne-{port}",
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "progressproject.asgi:application",
        )
        wait_for_port(port)
        return process, f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        for process in (self.worker, self.daphne):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in (self.worker, self.daphne):
            if process is not None:
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not Path(path).exists():
        raise RuntimeError(f"{path} not found: apt-get install -y chromium (or set CHROMIUM)")
    return path


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class RedisServer:
    """A private redis-server for fault tests, so stopping it does not disturb anything else."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()
