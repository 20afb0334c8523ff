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
import re
import shutil
from pathlib import Path

CHECKPOINTS_DIR = "checkpoints"
STATE_FILE = "trainer_state.json"  # transformers' TRAINER_STATE_NAME
WEIGHT_FILES = (
    "adapter_model.safetensors",
    "model.safetensors",
    "model.safetensors.index.json",
    "adapter_model.bin",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
_FOLDER = re.compile(r"checkpoint-(\d+)")


def checkpoint_folders(job_dir: Path) -> list[Path]:
    """Every ``checkpoint-N`` folder of the job, complete or not, by step."""
    root = Path(job_dir) / CHECKPOINTS_DIR
    try:
        found = [p for p in root.iterdir() if _FOLDER.fullmatch(p.name) and p.is_dir() and not p.is_symlink()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(found, key=lambda p: int(p.name.rpartition("-")[2]))


def is_complete(folder: Path) -> bool:
    try:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(state, dict) or "global_step" not in state:
        return False
    return any((folder / name).is_file() and (folder / name).stat().st_size > 0 for name in WEIGHT_FILES)


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
