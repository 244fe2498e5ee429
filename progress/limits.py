"""Size bounds on what one run stores and sends, so one user's input never hurts another's view.

A run's stored details (failures, metadata) are bounded here, at the point they are
recorded; the wire format (progress/serializers.py) bounds what is broadcast on top.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_FAILURES_KEPT", "record_failure", "truncate"]

# Per-item failures kept on the run (the total is always counted; a report file holds all).
MAX_FAILURES_KEPT = 200
# Characters kept of a failure's value and of its reason.
MAX_FAILURE_TEXT = 200
# The run's whole metadata, JSON-encoded. Beyond it, the largest entries are dropped.
MAX_METADATA_BYTES = 256 * 1024
ELLIPSIS = "…"


def truncate(text: Any, limit: int = MAX_FAILURE_TEXT) -> str:
    """text as a string of at most limit characters, marked with … when cut."""
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def failure_entry(*, line: int | str | None, value: Any, reason: Any) -> dict[str, Any]:
    """One failure as stored: its line (or record id), value and reason, each bounded."""
    if not isinstance(line, int) or isinstance(line, bool):
        line = truncate(line, 40) if line is not None else None
    return {"line": line, "value": truncate(value), "reason": truncate(reason)}


def record_failure(
    metadata: dict[str, Any], *, line: int | str | None, value: Any, reason: Any, **extra: Any
) -> None:
    """Count one failure in metadata and keep it if fewer than MAX_FAILURES_KEPT are kept."""
    metadata["row_errors_total"] = int(metadata.get("row_errors_total") or 0) + 1
    kept = metadata.setdefault("row_errors", [])
    if len(kept) < MAX_FAILURES_KEPT:
        entry = failure_entry(line=line, value=value, reason=reason)
        entry.update({k: truncate(v, 40) for k, v in extra.items()})
        kept.append(entry)


def bounded_metadata(metadata: dict[str, Any], limit: int = MAX_METADATA_BYTES) -> dict[str, Any]:
    """metadata itself when it encodes within limit; else a copy without its largest entries.

    Dropped keys are listed under "truncated_keys" so nothing disappears silently.
    """
    sizes = {key: _encoded_size(value) for key, value in metadata.items()}
    total = sum(sizes.values()) + 2 * len(sizes)
    if total <= limit:
        return metadata
    kept = dict(metadata)
    dropped = []
    for key in sorted(sizes, key=sizes.__getitem__, reverse=True):
        if total <= limit:
            break
        kept.pop(key)
        total -= sizes[key]
        dropped.append(key)
    kept["truncated_keys"] = sorted(dropped)
    return kept


def _encoded_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), default=str).encode()) + 8
