"""One line a user can act on for each way the workspace's storage fails.

SQLite and the filesystem report a damaged database, a read-only workspace or
a full disk as exceptions whose text names neither the file nor a remedy;
these map them to ``StorageError`` that names both.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from ..errors import StorageError

# SQLite's primary result codes (sqlite_errorcode & 0xff)
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 10, 11, 13, 14, 26

_READ_ONLY_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS)


def _first_line(text: str, limit: int = 200) -> str:
    line = (text.strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[:limit] + "..."


def os_storage_error(exc: OSError, path: Path | str, doing: str) -> StorageError:
    """``doing`` says what failed, e.g. "copying the model into"; ``path`` is where."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageError(f"no space left on the disk while {doing} {path}: free some space and try again")
    if exc.errno in _READ_ONLY_ERRNOS:
        return StorageError(
            f"{path} is read-only or not ours to write ({doing}): make the workspace writable or choose another with --workspace"
        )
    reason = exc.strerror or _first_line(str(exc)) or type(exc).__name__
    return StorageError(f"{doing} {path} failed: {reason}")


def sqlite_storage_error(exc: sqlite3.Error, db: Path | str) -> StorageError:
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    text = _first_line(str(exc))
    lowered = text.lower()
    if code in (_SQLITE_NOTADB, _SQLITE_CORRUPT) or "not a database" in lowered or "malformed" in lowered:
        return StorageError(
            f"workspace database {db} is not a database (damaged?): move it aside and run "
            "`finetui demo` to start afresh, or restore a backup"
        )
    # SQLite says "disk I/O error" or "unable to open" when WAL's shared-memory file cannot grow or be
    # created: the filesystem tells whether it is full or read-only.
    state = _filesystem_state(Path(db).parent)
    if code == _SQLITE_FULL or "disk is full" in lowered or state == "full":
        return StorageError(f"no space left on the disk for workspace database {db}: free some space and try again")
    if code in (_SQLITE_READONLY, _SQLITE_PERM) or "readonly" in lowered or state == "read-only":
        return StorageError(
            f"workspace database {db} is read-only: make it and its folder writable, or choose another workspace with --workspace"
        )
    if code == _SQLITE_CANTOPEN or "unable to open" in lowered:
        return StorageError(
            f"cannot open workspace database {db}: check that its folder exists and is writable, "
            "or choose another workspace with --workspace"
        )
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED) or "locked" in lowered:
        return StorageError(f"workspace database {db} stayed locked by another finetui process: try again")
    if code == _SQLITE_IOERR or "disk i/o" in lowered:
        return StorageError(f"reading or writing workspace database {db} failed ({text}): check the disk, then try again")
    return StorageError(f"workspace database {db}: {text}")


def _filesystem_state(folder: Path) -> str | None:
    """ "read-only", "full" or None (looks fine, or cannot tell) for the filesystem holding ``folder``."""
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):
        return None
    if st.f_flag & getattr(os, "ST_RDONLY", 1) or not os.access(folder, os.W_OK):
        return "read-only"
    if st.f_bavail == 0:
        return "full"
    return None
