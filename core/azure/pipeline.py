"""What a job sends to the registry's ``chat_completion_pipeline``: only what someone chose.

The tutorial passes its ``training_parameters`` and ``optimization_parameters``, then the
model's ``model_specific_defaults``; the component's own defaults stand for every other
input. finetui sends the same, plus what the user set (a spec file or ``--set``), and
nothing it would have to invent (no ``lora_alpha`` of its own).
"""

from __future__ import annotations

from typing import Any, Mapping

from ..spec import FineTuneSpec

# The tutorial's cell "Fine tuning parameters": the keys it always sends.
TUTORIAL_KEYS = ("num_train_epochs", "per_device_train_batch_size", "per_device_eval_batch_size", "learning_rate",
                 "lr_scheduler_type", "apply_lora", "apply_deepspeed", "deepspeed_stage")


def chosen_parameters(spec: FineTuneSpec, model_defaults: Mapping[str, Any], user: Mapping[str, Any] | None,
                      extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The pipeline inputs to send: the tutorial's keys, the model's defaults and the user's keys,
    with values from the resolved ``spec``; ``extra`` holds component inputs FineTuneSpec does not model."""
    chosen = set(TUTORIAL_KEYS) | set(model_defaults) | set(user or {})
    values = spec.pipeline_parameters()
    out = {k: values[k] for k in values if k in chosen}
    for key, value in (extra or {}).items():
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out
