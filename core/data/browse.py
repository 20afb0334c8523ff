"""What the Data pane lists and opens: a folder's subfolders and JSONL files, a typed path completed
and checked before it is opened (core/files.py: regular files only, a size cap, one-line errors)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInput
from ..files import DATASET_MAX_BYTES, check_regular_file, os_reason, shown

LIST_MAX = 2000  # entries read from one folder: a huge folder stays quick to show
SUFFIX = ".jsonl"


@dataclass(frozen=True)
class FolderListing:
    folder: Path
    parent: Path | None  # None at the filesystem's root
    folders: tuple[Path, ...]
    files: tuple[tuple[Path, int], ...]  # (JSONL file, size in bytes)
    truncated: bool = False  # the folder holds more than LIST_MAX entries


def _entries(folder: Path, limit: int = LIST_MAX) -> tuple[list[os.DirEntry[str]], bool]:
    try:
        with os.scandir(folder) as it:
            entries: list[os.DirEntry[str]] = []
            for entry in it:
                if len(entries) >= limit:
                    return entries, True
                entries.append(entry)
            return entries, False
    except OSError as exc:
        raise InvalidInput(f"{shown(folder)}: {os_reason(exc)}") from None


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a symlink loop, a vanished entry: not listed
        return False


def _regular_size(entry: os.DirEntry[str]) -> int | None:
    """The size of a regular file (symlinks followed); None for a FIFO, a device, a loop."""
    try:
        return entry.stat().st_size if entry.is_file() else None
    except OSError:
        return None


def list_folder(folder: str | os.PathLike[str]) -> FolderListing:
    """Subfolders and ``.jsonl`` regular files of ``folder``, hidden ones left out, sorted by name."""
    path = Path(folder).expanduser().absolute()
    entries, truncated = _entries(path)
    folders, files = [], []
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if _is_folder(entry):
            folders.append(Path(entry.path))
        elif entry.name.endswith(SUFFIX) and (size := _regular_size(entry)) is not None:
            files.append((Path(entry.path), size))
    parent = path.parent if path.parent != path else None
    return FolderListing(path, parent, tuple(folders), tuple(files), truncated)


def open_target(typed: str) -> FolderListing | Path:
    """A typed path: a folder's listing, or the dataset file it names, checked; InvalidInput in one line."""
    text = typed.strip()
    if not text:
        raise InvalidInput("type a path to a folder or a .jsonl file")
    path = Path(text).expanduser()
    if path.is_dir():
        return list_folder(path)
    return check_regular_file(path, "dataset", max_bytes=DATASET_MAX_BYTES)


def complete_path(typed: str) -> str | None:
    """``typed`` completed to the first folder (with ``/``) or regular file whose name it begins; None if none."""
    if not typed or "\n" in typed:
        return None
    head, sep, stem = typed.rpartition("/")
    folder = Path(os.path.expanduser(head or "/")) if sep else Path(".")
    try:
        entries, _ = _entries(folder)
    except InvalidInput:
        return None
    for entry in sorted(entries, key=lambda e: e.name):
        if not entry.name.startswith(stem) or (entry.name.startswith(".") and not stem.startswith(".")):
            continue
        if _is_folder(entry):
            return typed + entry.name[len(stem) :] + "/"
        if entry.name != stem and _regular_size(entry) is not None:
            return typed + entry.name[len(stem) :]
    return None
