"""Early stopping on eval loss: the trainer settings and callback behind ``early_stopping_patience``.

Checkpoints are saved at every evaluation (the Trainer requires it to keep
the best one), the best by eval loss is never rotated away by
``save_total_limit``, and at the end the best is loaded back, so the job's
exported model, and ``model register --checkpoint best``, are the best one.
"""

from __future__ import annotations

from typing import Any

from ..spec import FineTuneSpec


def early_stopping_config(eval_kwargs: dict[str, Any]) -> dict[str, Any]:
    """SFTConfig settings for saving as often as evaluating and ending on the best checkpoint."""
    out: dict[str, Any] = {
        "save_strategy": eval_kwargs["eval_strategy"],
        "load_best_model_at_end": True,
        "metric_for_best_model": "eval_loss",
        "greater_is_better": False,
    }
    if "eval_steps" in eval_kwargs:
        out["save_steps"] = eval_kwargs["eval_steps"]
    return out


def early_stopping_callbacks(spec: FineTuneSpec, has_eval: bool) -> list[Any]:
    if not (has_eval and spec.early_stopping_patience):
        return []
    from transformers import EarlyStoppingCallback

    return [
        EarlyStoppingCallback(
            early_stopping_patience=spec.early_stopping_patience, early_stopping_threshold=spec.early_stopping_threshold
        )
    ]


def describe_stop(spec: FineTuneSpec, state: Any, planned_steps: int) -> str | None:
    """One log line on what early stopping did, or None when it was off."""
    if not spec.early_stopping_patience:
        return None
    best = (
        f"best eval_loss {state.best_metric:.4f} at {state.best_model_checkpoint}"
        if state.best_metric is not None
        else "no evaluation"
    )
    if state.global_step < planned_steps:
        return (
            f"early stopping: eval_loss did not improve for {spec.early_stopping_patience} evaluations; "
            f"stopped at step {state.global_step} of {planned_steps}; {best} (loaded back)"
        )
    return f"early stopping: ran all {planned_steps} steps; {best} (loaded back)"
