"""Child processes of the suite (worker.py, wsclient.py) driven line by line."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from common import BENCH_DIR, PYTHON, ROOT, bench_env


class Child:
    """A bench script in its own process: send command lines, wait for answer lines."""

    def __init__(self, script: str, args: list[str], *, log_path: Path, **extra_env: str) -> None:
        self.name = f"{script} {' '.join(args[:2])}"
        self.log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [PYTHON, str(BENCH_DIR / script), *args],
            cwd=ROOT,
            env=bench_env(**extra_env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            bufsize=1,
        )
        self.pid = self.proc.pid
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def expect(self, prefix: str, timeout: float) -> str:
        """The rest of the next stdout line starting with prefix (other lines are ignored)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.name}: no {prefix!r} line within {timeout} s")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(
                    f"{self.name} exited ({self.proc.wait()}) before {prefix!r}; "
                    f"see {self.log.name}"
                )
            if line.startswith(prefix):
                return line[len(prefix) :].strip()

    def ask(self, command: str, timeout: float) -> dict[str, Any]:
        """Send a wsclient command and return its JSON reply."""
        self.send(command)
        return json.loads(self.expect("REPLY", timeout))

    def stop(self, timeout: float = 10) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
        self.log.close()
