"""Shared helpers of the benchmark suite: environment, daphne, sessions, statistics."""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
PYTHON = sys.executable

# What bench/run.sh exports; repeated here so a module can also be run on its own.
DEFAULT_ENV = {
    "DJANGO_SETTINGS_MODULE": "progressproject.settings",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/progress_bench",
    "REDIS_URL": "redis://127.0.0.1:6379/2",
    "CHANNEL_PREFIX": "bench",
    "BENCH_CELERY_BACKEND": "redis://127.0.0.1:6379/3",
    "TASKS_BACKEND": "db",
    "DJANGO_DEBUG": "false",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "PROGRESS_LOG_LEVEL": "WARNING",
    # The benches open thousands of sockets per user on purpose (storms, fan-out).
    "PROGRESS_CONNECT_RATE": "1000000",
    "PROGRESS_CONNECT_BURST": "1000000",
    # Sockets are still counted (in Redis, across the bench's daphnes: that cost is measured),
    # but a figure must not be refused places that a killed daphne of the figure before still
    # holds for SOCKET_COUNT_TTL.
    "PROGRESS_MAX_SOCKETS_PER_USER": "1000",
}


def bench_env(**extra: str) -> dict[str, str]:
    """The environment for a child process (daphne, worker, client)."""
    env = dict(os.environ)
    for key, value in DEFAULT_ENV.items():
        env.setdefault(key, value)
    paths = [str(ROOT), str(BENCH_DIR)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra)
    return env


def setup_django() -> None:
    """django.setup() in this process with the bench environment."""
    for key, value in DEFAULT_ENV.items():
        os.environ.setdefault(key, value)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def reset_channel_layer() -> int:
    """Forget every group and queued message of the bench's channel layer (its own Redis db).

    Figures must not inherit memberships that stopped daphne processes left behind.
    """
    import redis

    client = redis.Redis.from_url(os.environ.get("REDIS_URL", DEFAULT_ENV["REDIS_URL"]))
    try:
        keys = list(client.scan_iter(match="asgi:*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        return len(keys)
    finally:
        client.close()


# --- statistics ----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- sessions --------------------------------------------------------------------------------


def staff_session(username: str = "bench-staff") -> str:
    """A staff user and a logged-in session for it in the bench database; the session key."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    user, _ = User.objects.get_or_create(
        username=username, defaults={"is_staff": True, "is_superuser": True}
    )
    user.set_password("bench-password-not-secret")
    user.save()
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.set_expiry(24 * 3600)
    session.save()
    return session.session_key


# --- daphne ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Listen backlog of the bench's daphne (scripts/run.sh uses the same): Twisted's default
# is 50, and a storm of 1,000 handshakes overflowed it (SYNs dropped, 1-3-7 s retransmits).
BACKLOG = 1024


class Daphne:
    """A real daphne process serving the project (through bench_asgi, which counts queries).

    `source` serves another copy of the app (the baseline revision, see baseline_source());
    `port` reuses a port (a restart); `backlog` is the listen queue.
    """

    def __init__(
        self,
        *,
        log_path: Path,
        port: int | None = None,
        backlog: int = BACKLOG,
        source: Path | None = None,
        **extra_env: str,
    ) -> None:
        self.port = port or free_port()
        self.log = log_path.open("ab")
        daphne_bin = str(Path(PYTHON).with_name("daphne"))
        endpoint = f"tcp:port={self.port}:interface=127.0.0.1:backlog={backlog}"
        env = bench_env(**extra_env)
        if source is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(source), str(BENCH_DIR)])
        self.proc = subprocess.Popen(
            [daphne_bin, "-e", endpoint, "bench_asgi:application"],
            cwd=source or ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.pid = self.proc.pid
        self.started_at = time.time()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited with {self.proc.returncode}; see {log_path}")
            try:
                self.stats()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"daphne did not answer within 30 s; see {log_path}")

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/progress/"

    def stats(self) -> dict[str, Any]:
        """Queries executed by Django in daphne since it started (bench_asgi's counter)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", "/__bench__/stats")
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def kill(self) -> None:
        """SIGKILL, like a crash: no close frames, no disconnect()."""
        self.proc.kill()
        self.proc.wait(10)
        self.log.close()

    def stop(self) -> None:
        if self.log.closed:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def baseline_source(revision: str) -> Path:
    """The app at revision, unpacked under bench/results/ (for before/after in one run)."""
    target = RESULTS_DIR / f"src-{revision}"
    if not (target / "manage.py").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def staff_sessions(count: int, *, users: int) -> list[str]:
    """count logged-in sessions spread over `users` staff users (each under the socket cap)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    staff = []
    for i in range(users):
        user, _ = User.objects.get_or_create(
            username=f"bench-staff-{i}", defaults={"is_staff": True, "is_superuser": True}
        )
        staff.append(user)
    keys = []
    for i in range(count):
        user = staff[i % users]
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.set_expiry(24 * 3600)
        session.save()
        keys.append(session.session_key)
    return keys


def fmt_seconds(value: float) -> str:
    """A duration with a sensible unit."""
    if value != value:  # nan
        return "n/a"
    if value < 1e-6:
        return f"{value * 1e9:.0f} ns"
    if value < 1e-3:
        return f"{value * 1e6:.2f} µs"
    if value < 1:
        return f"{value * 1e3:.2f} ms"
    return f"{value:.2f} s"
