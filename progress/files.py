"""Files a run owns (uploads it reads, reports it writes), kept in PROGRESS["STORAGE"].

A run names its files in metadata["files"] so that pruning the run deletes them; progress
knows nothing of their formats. Storage names are made here from random ids, never from a
user's file name, so a hostile name cannot break a path or collide with another file.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from pathlib import PurePath, PurePosixPath
from typing import Any

from django.core.files import File
from django.core.files.storage import Storage, storages
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.urls import reverse

from progress import conf, limits

__all__ = [
    "FILES_KEY",
    "REPORT",
    "UPLOAD",
    "ShortNameTemporaryFileUploadHandler",
    "file_links",
    "file_open",
    "record_file",
    "run_files",
    "storage",
    "upload_save",
]

logger = logging.getLogger(__name__)

FILES_KEY = "files"
UPLOAD = "upload"
REPORT = "report"
# Characters kept of a user's file name, for display only.
MAX_LABEL = 100


def storage() -> Storage:
    """The storage holding runs' files: STORAGES[PROGRESS["STORAGE"]]."""
    return storages[conf.get("STORAGE")]


def storage_folder(kind: str) -> str:
    """The storage folder for files of this kind: uploads, or reports and other outputs."""
    return conf.get("UPLOADS_FOLDER") if kind == UPLOAD else conf.get("REPORTS_FOLDER")


def record_file(
    metadata: dict[str, Any], *, name: str, label: str, kind: str, size: int | None = None
) -> None:
    """Name a stored file on the run's metadata, so the run's page and pruning find it; its
    size in bytes counts against its owner's MAX_STORED_BYTES_PER_USER."""
    entry: dict[str, Any] = {"name": name, "label": limits.truncate(label, MAX_LABEL), "kind": kind}
    if size is not None:
        entry["size"] = size
    metadata.setdefault(FILES_KEY, []).append(entry)


def stored_bytes(runs: Any) -> int:
    """The bytes the files of runs (a queryset) take in storage, as their entries recorded."""
    total = 0
    for entries in runs.filter(metadata__has_key=FILES_KEY).values_list(
        f"metadata__{FILES_KEY}", flat=True
    ):
        for entry in entries if isinstance(entries, list) else []:
            size = entry.get("size") if isinstance(entry, dict) else None
            total += size if isinstance(size, int) and size > 0 else 0
    return total


def run_files(metadata: Any, kind: str | None = None) -> list[dict[str, Any]]:
    """The run's file entries (of one kind), skipping any that are not safe storage names."""
    entries = metadata.get(FILES_KEY) if isinstance(metadata, dict) else None
    if not isinstance(entries, list):
        return []
    return [
        entry
        for entry in entries
        if isinstance(entry, dict)
        and is_storage_name(entry.get("name"))
        and (kind is None or entry.get("kind") == kind)
    ]


def is_storage_name(name: Any) -> bool:
    """A relative name inside the storage: no absolute path, no '..', no backslash."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        return False
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts


def upload_save(upload: File[Any], *, folder: str | None = None) -> str:
    """Store an upload under a random name (keeping a short extension); returns its name.

    The folder defaults to PROGRESS["UPLOADS_FOLDER"]; pass storage_folder(REPORT) for outputs.
    """
    upload.seek(0)
    prefix = (storage_folder(UPLOAD) if folder is None else folder).strip("/")
    return storage().save(f"{prefix}/{uuid.uuid4().hex}{_suffix(upload.name)}", upload)


def file_open(name: str) -> File[Any]:
    """Open a run's stored file for reading (FileNotFoundError when it is gone)."""
    return storage().open(name, "rb")


def short_name(name: str | None) -> str:
    """A user's file name cut to MAX_LABEL characters, keeping a short extension."""
    name = PurePath(name or "upload").name
    suffix = _suffix(name)
    stem = name[: len(name) - len(suffix)] if suffix and name.lower().endswith(suffix) else name
    return stem[: MAX_LABEL - len(suffix)] + suffix


class ShortNameTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Django's handler for large uploads, with the name cut first: it names its temporary
    file after the upload's extension, and a 250-character one raised OSError (a 500)."""

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, short_name(file_name), *args, **kwargs)


def _suffix(name: str | None) -> str:
    suffix = PurePath(name or "").suffix.lower()
    return suffix if suffix[1:].isascii() and suffix[1:].isalnum() and len(suffix) <= 8 else ""


def files_delete(names: Iterable[str]) -> int:
    """Delete stored files; missing ones are fine, failures are logged. Returns how many went."""
    deleted = 0
    for name in names:
        if not is_storage_name(name):
            continue
        try:
            if storage().exists(name):
                storage().delete(name)
                deleted += 1
        except Exception:
            logger.exception("Could not delete stored file %s", name)
    return deleted


def file_links(operation: Any) -> list[dict[str, Any]]:
    """The run's files for the API: label, kind and download URL of each."""
    return [
        {
            "label": entry.get("label") or PurePosixPath(entry["name"]).name,
            "kind": entry.get("kind") or "",
            "url": reverse("progress:file", args=[operation.pk, index]),
        }
        for index, entry in enumerate(run_files(operation.metadata))
    ]
