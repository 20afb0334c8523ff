"""A local job's saved checkpoints as rows (see checkpoint_rows.py), and a checkpoint as a model.

Only complete checkpoints count (``checkpoints.complete_checkpoints``: a
folder cut off mid-save is skipped). A checkpoint becomes a model the way the
final export does: the LoRA adapter merged into the base, saved as an MLflow
model.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Callable

from ..checkpoint_rows import STATE_FILE, STATE_MAX_BYTES, Saved, checkpoint_rows, checkpoint_step
from ..models import Checkpoint
from .checkpoints import complete_checkpoints


def _state(folder: Path) -> dict[str, Any]:
    from ..files import read_user_text

    try:
        state = json.loads(read_user_text(folder / STATE_FILE, None, STATE_MAX_BYTES))
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def list_checkpoints(job_dir: Path) -> list[Checkpoint]:
    return checkpoint_rows([Saved(str(f), checkpoint_step(f.name) or 0, _state(f)) for f in complete_checkpoints(job_dir)])


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
