"""What a Trainer checkpoint folder holds and how a job's checkpoints become rows, for both backends.

The Hugging Face Trainer writes ``checkpoint-N`` folders the same way on a
laptop and in Azure ML's ``chat_completion_finetune`` step: the weights, then
the optimizer, scheduler and RNG state, and ``trainer_state.json`` last. A
folder is complete when that state file is there and so are its weights. The
local backend reads the folders from disk (local/checkpoints.py), the Azure
backend from the step's output on the datastore (azure/checkpoints.py); both
turn what they read into the same rows here.

A checkpoint's train loss is the last training loss logged at or before its
step, its eval loss the last evaluation at or before it. The best is the one
the Trainer marked (``best_model_checkpoint``, kept when it tracks a metric
for the best model), else the lowest eval loss.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any, Mapping

from .errors import Conflict, InvalidInput, quote
from .models import Checkpoint

STATE_FILE = "trainer_state.json"  # transformers' TRAINER_STATE_NAME
STATE_MAX_BYTES = 64 << 20
WEIGHT_FILES = (
    "adapter_model.safetensors",
    "model.safetensors",
    "model.safetensors.index.json",
    "adapter_model.bin",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
# DeepSpeed (the Azure pipeline's apply_deepspeed) saves the engine's states under global_stepN/ instead
_DEEPSPEED_FOLDER = re.compile(r"global_step\d+")
_FOLDER = re.compile(r"checkpoint-(\d+)")


def checkpoint_step(folder_name: str) -> int | None:
    """N for a folder named ``checkpoint-N``, else None."""
    m = _FOLDER.fullmatch(folder_name)
    return int(m.group(1)) if m else None


def has_weights(sizes: Mapping[str, int]) -> bool:
    """Whether a checkpoint's files (path inside the folder, ``/``-separated -> bytes) include its weights."""
    for name, size in sizes.items():
        if size <= 0:
            continue
        parts = name.split("/")
        if (len(parts) == 1 and name in WEIGHT_FILES) or (len(parts) > 1 and _DEEPSPEED_FOLDER.fullmatch(parts[0])):
            return True
    return False


def well_formed(state: Any) -> bool:
    return isinstance(state, dict) and "global_step" in state


@dataclass(frozen=True)
class Saved:
    """One complete checkpoint as a backend found it: where, its step, and its state when it was read."""

    path: str
    step: int
    state: dict[str, Any] | None = None


def _last(history: list[Any], key: str, step: int) -> float | None:
    value = None
    for entry in history:
        if isinstance(entry, dict) and key in entry and int(entry.get("step", 0)) <= step:
            value = float(entry[key])
    return value


def checkpoint_rows(saved: list[Saved]) -> list[Checkpoint]:
    """The rows of ``saved`` (complete checkpoints), oldest first, the best marked.

    The newest state read must be among them: its history covers every earlier step, including the
    evaluations that came after an older save. Checkpoints whose state was not read take their epoch
    from that history."""
    saved = sorted(saved, key=lambda s: s.step)
    states = [s.state for s in saved if s.state is not None]
    if not states:
        return []
    newest = max(states, key=lambda s: int(s.get("global_step") or 0))
    history = newest.get("log_history") or []
    marked = {PurePosixPath(str(s["best_model_checkpoint"])).name for s in states if s.get("best_model_checkpoint")}
    rows = []
    for s in saved:
        epoch = s.state.get("epoch") if s.state is not None else _last(history, "epoch", s.step)
        rows.append(
            Checkpoint(
                step=s.step,
                epoch=float(epoch) if epoch is not None else None,
                path=s.path,
                train_loss=_last(history, "loss", s.step),
                eval_loss=_last(history, "eval_loss", s.step),
            )
        )
    best = [c for c in rows if PurePosixPath(c.path).name in marked]
    if not best:
        scored = [c for c in rows if c.eval_loss is not None]
        best = [min(scored, key=lambda c: c.eval_loss if c.eval_loss is not None else 0.0)] if scored else []
    return [replace(c, best=bool(best) and c.path == best[-1].path) for c in rows]


def pick(checkpoints: list[Checkpoint], which: str, job: str) -> Checkpoint:
    """``best`` or a step number among ``checkpoints``; InvalidInput naming the choices otherwise."""
    steps = ", ".join(str(c.step) for c in checkpoints) or "none"
    if not checkpoints:
        raise Conflict(f"job {job} has no complete checkpoints")
    if which == "best":
        for c in checkpoints:
            if c.best:
                return c
        raise InvalidInput(f"--checkpoint best: job {job} has no evaluated checkpoint; steps: {steps}")
    if not re.fullmatch(r"[0-9]{1,12}", which or ""):
        raise InvalidInput(f"--checkpoint {quote(which)}: use a step number or best")
    for c in checkpoints:
        if c.step == int(which):
            return c
    raise InvalidInput(f"--checkpoint {quote(which)}: job {job} has no complete checkpoint at that step; steps: {steps}")
