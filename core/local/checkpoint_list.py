"""A job's saved trainer checkpoints: which are complete, their losses, the best, and a checkpoint as a model.

Only complete checkpoints count (``checkpoints.complete_checkpoints``: a
folder cut off mid-save is skipped). A checkpoint's train loss is the
last logged training loss at or before its step, its eval loss the last
evaluation at or before its step; the best is the one the Trainer marked
(``best_model_checkpoint``, when early stopping tracks it), else the lowest
eval loss. A checkpoint becomes a model the way the final export does: the
LoRA adapter merged into the base, saved as an MLflow model.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any, Callable

from ..errors import Conflict, InvalidInput, quote
from ..models import Checkpoint
from .checkpoints import STATE_FILE, complete_checkpoints

STATE_MAX_BYTES = 64 << 20


def _state(folder: Path) -> dict[str, Any]:
    from ..files import read_user_text

    try:
        state = json.loads(read_user_text(folder / STATE_FILE, None, STATE_MAX_BYTES))
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def _last(history: list[dict[str, Any]], key: str, step: int) -> float | None:
    value = None
    for entry in history:
        if isinstance(entry, dict) and key in entry and int(entry.get("step", 0)) <= step:
            value = float(entry[key])
    return value


def list_checkpoints(job_dir: Path) -> list[Checkpoint]:
    folders = complete_checkpoints(job_dir)
    if not folders:
        return []
    states = {f: _state(f) for f in folders}
    # the newest state's history covers every earlier step, including evaluations after an older save
    history = max(states.values(), key=lambda s: int(s.get("global_step") or 0)).get("log_history") or []
    marked = {Path(s["best_model_checkpoint"]).name for s in states.values() if s.get("best_model_checkpoint")}
    rows = []
    for folder in folders:
        step = int(folder.name.rpartition("-")[2])
        epoch = states[folder].get("epoch")
        rows.append(
            Checkpoint(
                step=step,
                epoch=float(epoch) if epoch is not None else None,
                path=str(folder),
                train_loss=_last(history, "loss", step),
                eval_loss=_last(history, "eval_loss", step),
            )
        )
    best = [c for c in rows if Path(c.path).name in marked]
    if not best:
        scored = [(c.eval_loss, c) for c in rows if c.eval_loss is not None]
        best = [min(scored, key=lambda pair: pair[0])[1]] if scored else []
    return [Checkpoint(**{**c.__dict__, "best": bool(best) and c.path == best[-1].path}) for c in rows]


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


def export_checkpoint(
    checkpoint: Checkpoint,
    base_model_path: str | Path,
    dest: Path,
    *,
    job: str,
    base_ref: str,
    log: Callable[[str], None] | None = None,
) -> Path:
    """``dest`` as an MLflow model of ``checkpoint``: its adapter merged into the base (or its full weights)."""
    if (dest / "MLmodel").is_file():
        return dest  # exported before; save_mlflow_model renames whole folders into place
    from .mlflow_export import offline_env

    offline_env()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .artifacts import resolve_hf_dirs
    from .demo.model import quiet_progress
    from .mlflow_export import save_mlflow_model

    folder = Path(checkpoint.path)
    model_dir, tokenizer_dir = resolve_hf_dirs(base_model_path)
    with quiet_progress(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # library deprecation notices are not the user's business
        if (folder / "adapter_config.json").is_file():
            from peft import PeftModel

            base = AutoModelForCausalLM.from_pretrained(str(model_dir))
            model = PeftModel.from_pretrained(base, str(folder)).merge_and_unload()
        else:
            model = AutoModelForCausalLM.from_pretrained(str(folder))
        tokenizer = AutoTokenizer.from_pretrained(str(folder if (folder / "tokenizer_config.json").is_file() else tokenizer_dir))
        model.config.use_cache = True
        return save_mlflow_model(model, tokenizer, dest, base_model=base_ref, job=job, log=log)
