"""Durable private files, for the keys and counters that SDKs keep on disk.

Not a wire format, but the readers and wallets SDKs both need it and may
share only the contract package, so it lives here once.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path


def write_private(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Writes ``data`` to a 0600 temporary file, syncs it, then puts it in place.

    With ``overwrite`` the file is replaced atomically (a crash leaves the old
    or the new content, never a torn file); without it the file is linked into
    place, which never replaces an existing file (FileExistsError instead).
    """
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if overwrite:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """Makes a new or renamed directory entry itself durable (POSIX only)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
