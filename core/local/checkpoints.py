"""A local job's Trainer checkpoints (``jobs/<job>/checkpoints/checkpoint-N``): which ones are complete.

A runner killed while the Trainer writes ``checkpoint-N`` (SIGKILL, a crash,
the machine going down) leaves a folder with part of its files, or none. The
Trainer writes the weights, then the optimizer, scheduler and RNG state, and
``trainer_state.json`` last, so a checkpoint is complete when its
``trainer_state.json`` parses and its weights are there. Anything that lists,
keeps or resumes from checkpoints goes through ``complete_checkpoints``; the
rest are removed once no runner is writing them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..checkpoint_rows import STATE_FILE, checkpoint_step, has_weights, well_formed

CHECKPOINTS_DIR = "checkpoints"


def checkpoint_folders(job_dir: Path) -> list[Path]:
    """Every ``checkpoint-N`` folder of the job, complete or not, by step."""
    root = Path(job_dir) / CHECKPOINTS_DIR
    try:
        found = [p for p in root.iterdir() if checkpoint_step(p.name) is not None and p.is_dir() and not p.is_symlink()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(found, key=lambda p: checkpoint_step(p.name) or 0)


def is_complete(folder: Path) -> bool:
    try:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not well_formed(state):
        return False
    return has_weights(_file_sizes(folder))


def _file_sizes(folder: Path, depth: int = 2) -> dict[str, int]:
    """Regular files of ``folder`` and of its subfolders ``depth`` deep, by path inside it; links are not followed."""
    sizes: dict[str, int] = {}
    try:
        entries = list(folder.iterdir())
    except OSError:
        return sizes
    for path in entries:
        if path.is_symlink():
            continue
        if path.is_file():
            sizes[path.name] = path.stat().st_size
        elif path.is_dir() and depth > 1:
            sizes.update({f"{path.name}/{k}": v for k, v in _file_sizes(path, depth - 1).items()})
    return sizes


def complete_checkpoints(job_dir: Path) -> list[Path]:
    """The job's checkpoints that a resume or an export can use, oldest first."""
    return [p for p in checkpoint_folders(job_dir) if is_complete(p)]


def remove_incomplete_checkpoints(job_dir: Path) -> list[Path]:
    """Delete the partial ``checkpoint-N`` folders; call only when no runner is writing to the job."""
    removed = []
    for folder in checkpoint_folders(job_dir):
        if not is_complete(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
