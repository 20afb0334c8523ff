"""The files of registered versions: staging copies, read-only trees, and sweeping what a crash left.

A register copies the job's model into ``registry/.staging-<pid>-<start>-<nonce>``
(fsynced), then renames it into ``registry/<name>/<version>`` inside the
database transaction that records the version. The staging folder's name says
which process owns it (pid and start time, as ``procs`` tells live processes),
so the next register can sweep the folders of dead registers while leaving a
register still copying alone.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from ..errors import OperationFailed
from ..faults import fault_point
from .. import procs

STAGING_PREFIX = ".staging-"
_READ_ONLY_FILE = 0o444
_READ_ONLY_DIR = 0o555
_WRITABLE_DIR = 0o755


def new_staging(registry: Path) -> Path:
    """A staging folder name owned by this process (not created yet)."""
    started = procs.process_start_time(os.getpid()) or 0.0
    return registry / f"{STAGING_PREFIX}{os.getpid()}-{started:.3f}-{secrets.token_hex(4)}"


def staging_is_stale(folder: Path) -> bool:
    """True when the register that owns ``folder`` is no longer running."""
    parts = folder.name[len(STAGING_PREFIX) :].split("-")
    try:
        pid = int(parts[0])
    except (ValueError, IndexError):
        return True  # not a name we write: nobody owns it
    start: float | None = None
    if len(parts) == 3:  # pid-start-nonce; older names were pid-time_ns, with no start time
        try:
            start = float(parts[1])
        except ValueError:
            start = None
    return not procs.is_alive(pid, start)


def sweep_stale_staging(registry: Path) -> list[Path]:
    """Remove the staging folders of registers that died; the live ones' are kept."""
    removed: list[Path] = []
    try:
        entries = list(registry.iterdir())
    except FileNotFoundError:
        return removed
    for entry in entries:
        if entry.name.startswith(STAGING_PREFIX) and entry.is_dir() and not entry.is_symlink() and staging_is_stale(entry):
            remove_tree(entry)
            removed.append(entry)
    return removed


def copy_in(source: Path, staging: Path) -> None:
    """Copy ``source`` to ``staging`` with every file and folder on disk (fsynced) before it returns.

    A walk of our own rather than ``shutil.copytree``, which folds every OSError into one
    ``shutil.Error`` without an errno, so a full disk could not be told from anything else.
    """
    staging.mkdir()
    for dirpath, dirs, files in os.walk(source):
        target = staging / os.path.relpath(dirpath, source)
        for d in dirs:
            if os.path.islink(os.path.join(dirpath, d)):
                raise OperationFailed(f"{os.path.join(dirpath, d)} is a symlinked folder; a registered model holds its own files")
            (target / d).mkdir()
        for f in files:
            shutil.copy2(os.path.join(dirpath, f), target / f)  # a symlinked file is copied as its content
            _fsync(str(target / f))
            fault_point("register.copy")  # after a file: a kill here leaves a partial copy
    for dirpath, _dirs, _files in os.walk(staging):
        _fsync(dirpath, directory=True)


def make_read_only(root: Path, *, top: bool = True) -> None:
    """Files 0444 and folders 0555 all the way down; ``top=False`` leaves ``root`` itself writable."""
    for dirpath, dirs, files in os.walk(root):
        for f in files:
            os.chmod(os.path.join(dirpath, f), _READ_ONLY_FILE)
        for d in dirs:
            os.chmod(os.path.join(dirpath, d), _READ_ONLY_DIR)
    if top:
        os.chmod(root, _READ_ONLY_DIR)


def remove_tree(path: Path) -> None:
    """Delete a tree that may be read-only (a registered version, a staging copy)."""
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    # unlinking needs a writable folder, not a writable file: open the folders up first
    os.chmod(path, _WRITABLE_DIR)
    for dirpath, dirs, _files in os.walk(path):
        for d in dirs:
            p = os.path.join(dirpath, d)
            if not os.path.islink(p):
                os.chmod(p, _WRITABLE_DIR)
    shutil.rmtree(path)


def fsync_dir(path: Path) -> None:
    _fsync(str(path), directory=True)


def _fsync(path: str, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
