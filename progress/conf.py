"""The PROGRESS setting: documented defaults merged with the project's overrides."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

__all__ = ["DEFAULTS", "get"]

DEFAULTS: dict[str, Any] = {
    # Seconds between database writes of one run's counters (status changes are immediate).
    "DB_INTERVAL": 1.0,
    # Seconds between live broadcasts of one run's counters.
    "BROADCAST_INTERVAL": 0.25,
    # Seconds between heartbeats of a live run, even when its pipeline is busy in one item.
    "HEARTBEAT_INTERVAL": 10.0,
    # Seconds between the server's {"type": "heartbeat"} frames on every socket, so a page
    # can tell a quiet run from a silent server (it greys out after two are missed).
    "SOCKET_HEARTBEAT_INTERVAL": 3.0,
    # Longest pause, in seconds, between a server process's flushes of run states to its
    # sockets (progress/sockets/fanout.py). After a flush that took d seconds the next waits d, at
    # most this: with few sockets a state goes out at once; with many, each socket gets one
    # frame per flush holding the newest state of every run that changed.
    "SOCKET_FLUSH_INTERVAL": 0.05,
    # A running run whose heartbeat is older than this is marked stalled.
    "STALL_TIMEOUT": 60.0,
    # Seconds between checks for a cancel request made from another process.
    "CANCEL_POLL_INTERVAL": 1.0,
    # With the in-memory layer only: seconds between database polls that relay runs
    # of other processes (management commands, workers) to this server's clients.
    "DB_POLL_INTERVAL": 2.0,
    # Finished runs included in a snapshot, newest first.
    "SNAPSHOT_RECENT": 20,
    # Seconds a snapshot may be shared by later connects with the same visibility; each is
    # then sent what its group's feed took in since (progress/sockets/snapshots.py).
    "SNAPSHOT_SHARE_SECONDS": 1.0,
    # Seconds a WebSocket server remembers which user a session key belongs to (0: off).
    # A logout in the same process forgets it at once; elsewhere it lasts this long at most.
    "AUTH_CACHE_SECONDS": 5.0,
    # Seconds between re-checks of every open socket's session (one batched lookup per
    # server process): a socket whose session no longer logs its user in (logout, expiry,
    # deactivation, a new password) is closed with 4001; one whose user was demoted from
    # staff with 4003. A logout in the same process closes its sockets at once.
    "SOCKET_AUTH_RECHECK_SECONDS": 5.0,
    # "own": non-staff users see their own runs; "all": any logged-in user sees every run.
    "DASHBOARD_VISIBILITY": "own",
    # Largest client frame the consumer accepts before closing with 4009.
    "MAX_MESSAGE_BYTES": 64 * 1024,
    # Most run ids one resync may name; more is refused with an error.
    "MAX_RESYNC_IDS": 1000,
    # Most runs a ?view=shown socket may show at once ({"type": "show"}): a list page's
    # first page holds up to 500 active runs and 20 finished ones.
    "MAX_SHOWN_RUNS": 520,
    # Seconds between the summaries ({"type": "summary"}: counts and new runs matching the
    # page's filters) a ?view=shown socket gets; one query per filter and process each time.
    "SOCKET_SUMMARY_INTERVAL": 1.0,
    # Bytes the server may hold unsent for one WebSocket (its client is not reading) before
    # it closes it with 4010. Applied under daphne by progress.daphne_tuning.tune_daphne().
    "MAX_SEND_BUFFER_BYTES": 4 * 1024 * 1024,
    # Open WebSockets one user may hold; past it a new one is closed with 4029. Counted
    # across every serving process in Redis when the channel layer is Redis (a process's
    # places free themselves within 20 s if it dies), in the process otherwise.
    "MAX_SOCKETS_PER_USER": 20,
    # Client messages per second (token bucket) before closing with 4008.
    # Charged as each frame arrives, before it waits for the consumer; at most CLIENT_BURST
    # frames wait per socket, and a resync waiting behind another replaces it.
    "CLIENT_RATE": 20.0,
    "CLIENT_BURST": 60,
    # A resync costs one token more per this many runs it returns (a 1,000-run answer is
    # about 1.5 MB out for a 14 KB frame in): 20 tokens for 1,000 runs.
    "RESYNC_RUNS_PER_TOKEN": 50,
    # Sockets one user (or, without a login, one client address) may open per second, with
    # bursts of CONNECT_BURST (a token bucket): in each server process, and a user's across
    # every process when the layer is Redis; past it the socket is closed with 4030, and the
    # client backs off. The burst is above
    # MAX_SOCKETS_PER_USER, so every tab of a user reconnects at once after a restart.
    "CONNECT_RATE": 5.0,
    "CONNECT_BURST": 30,
    # Bytes one user's runs may keep in stored files (uploads, reports) until pruned; a
    # start whose uploads would pass it is refused with 413 and what to do.
    "MAX_STORED_BYTES_PER_USER": 2 * 1024**3,
    # Seconds a final state (complete, fail, cancel) may wait for its database write.
    "FINAL_FLUSH_TIMEOUT": 10.0,
    # Time constant in seconds of the exponential smoothing of rate and ETA.
    "ETA_SMOOTHING_SECONDS": 10.0,
    # prune_operations deletes finished runs older than this many days.
    "RETENTION_DAYS": 30,
    # Channel layer alias (a key of CHANNEL_LAYERS) used for broadcasts and the consumer.
    "CHANNEL_LAYER": "default",
    # Base URL of the site, for the live-page links that commands print (the path comes
    # from reversing progress:detail).
    "SITE_URL": "http://127.0.0.1:8000",
    # Storage alias (a key of STORAGES) that holds the files runs own: uploads and reports.
    "STORAGE": "default",
    # Folders inside that storage: uploaded inputs, and reports and other files runs write.
    "UPLOADS_FOLDER": "progress/uploads",
    "REPORTS_FOLDER": "progress/reports",
    # Lowest level of the log records a tracked block attaches to its run
    # (progress.runtime.logcapture).
    "LOG_LEVEL": "INFO",
    # Log lines stored per run: the newest are kept, the rest counted as dropped.
    "LOG_LINES": 1000,
    # True: a tracked block also captures records its loggers' levels would drop (INFO from a
    # logger that inherits the root's WARNING), without the host printing them. This wraps
    # logging.Logger's isEnabledFor and callHandlers for the whole process, so it is opt-in
    # (progress/runtime/logcapture.py says how). False: a run gets what its loggers let through.
    "LOG_CAPTURE_BELOW_HOST_LEVELS": False,
    # Largest upload (bytes) a pipeline start accepts; a larger request is refused from its
    # Content-Length before its body is read (413), a larger file by its parameters (400).
    "MAX_UPLOAD_BYTES": 20 * 1024 * 1024,
    # Per user, counted in the table (so across every process): runs queued or running at
    # once, and pipeline starts in any minute. Past either, a start is refused with 429 (API)
    # or an error beside the form; management commands are not limited.
    "MAX_ACTIVE_RUNS_PER_USER": 10,
    "MAX_STARTS_PER_MINUTE": 30,
    # Tracked tasks running at once in one process. The thread-pool backend runs tasks inside
    # the web server: past this bound a task waits (its run stays queued) until a run of the
    # process ends, so pages stay responsive. A db_worker runs one task at a time anyway.
    "EMBEDDED_MAX_CONCURRENT_RUNS": 3,
    # Addresses or networks of the host's reverse proxies ("10.0.0.5", "10.1.0.0/16"): from
    # them, X-Forwarded-For names the client (its rightmost hop that is not one of them);
    # from anyone else it is ignored. What anonymous sockets' connect limits key on
    # (progress/client_address.py).
    "TRUSTED_PROXIES": (),
}


@cache
def progress_settings() -> dict[str, Any]:
    """Return DEFAULTS overridden by settings.PROGRESS; unknown keys are an error."""
    overrides = getattr(settings, "PROGRESS", {}) or {}
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise ValueError(
            f"Unknown PROGRESS setting(s) {sorted(unknown)}; valid keys are {sorted(DEFAULTS)}"
        )
    return {**DEFAULTS, **overrides}


def get(name: str) -> Any:
    """Return one PROGRESS value."""
    return progress_settings()[name]


@receiver(setting_changed)
def _reset_on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "PROGRESS":
        progress_settings.cache_clear()
