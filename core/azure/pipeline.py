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
TUTORIAL_KEYS = (
    "num_train_epochs",
    "per_device_train_batch_size",
    "per_device_eval_batch_size",
    "learning_rate",
    "lr_scheduler_type",
    "apply_lora",
    "apply_deepspeed",
    "deepspeed_stage",
)


def chosen_parameters(
    spec: FineTuneSpec, model_defaults: Mapping[str, Any], user: Mapping[str, Any] | None, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The pipeline inputs to send: the tutorial's keys, the model's defaults and the user's keys,
    with values from the resolved ``spec``; ``extra`` holds component inputs FineTuneSpec does not model."""
    chosen = set(TUTORIAL_KEYS) | set(model_defaults) | set(user or {})
    values = spec.pipeline_parameters()
    out = {k: values[k] for k in values if k in chosen}
    for key, value in (extra or {}).items():
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


# Inputs finetui fills from --model, --compute, --train and --test (and the cluster's GPU count).
SET_BY_FINETUI = (
    "mlflow_model_path",
    "compute_model_import",
    "compute_preprocess",
    "compute_finetune",
    "compute_model_evaluation",
    "train_file_path",
    "test_file_path",
    "number_of_gpu_to_use_finetuning",
)


def split_user(
    user: Mapping[str, Any] | None, component_inputs: Mapping[str, Any], source: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The user's mapping as (FineTuneSpec keys, other component inputs checked against their spec).

    A key that is neither is an error naming the closest known keys."""
    import difflib

    from ..errors import InvalidInput, SpecError
    from ..spec import LOCAL_ONLY_KEYS, SPEC_KEYS

    ours, theirs = {}, {}
    known = SPEC_KEYS
    for key, value in (user or {}).items():
        if key in known and not (key in LOCAL_ONLY_KEYS and key in component_inputs):
            ours[key] = value
        elif key in SET_BY_FINETUI:
            raise InvalidInput(f"{source or 'spec'}: {key} is set by finetui from --model, --compute, --train and --test")
        elif key in component_inputs:
            theirs[key] = component_value(key, value, component_inputs[key], source)
        else:
            names = sorted(known | (set(component_inputs) - set(SET_BY_FINETUI)))
            close = difflib.get_close_matches(str(key)[:100], names, n=2, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise SpecError(key, f"neither a fine-tuning parameter nor an input of chat_completion_pipeline{hint}", source=source)
    return ours, theirs


def component_value(key: str, value: Any, spec: Any, source: str | None = None) -> Any:
    """``value`` checked against the component input's own type, enum and range; in the form it is sent."""
    from ..errors import SpecError

    kind = str(getattr(spec, "type", "") or "string")
    enum = [str(e) for e in (getattr(spec, "enum", None) or [])]
    low, high = getattr(spec, "min", None), getattr(spec, "max", None)
    shown = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, bool):
        value = "true" if value else "false"
    if kind in ("integer", "number"):
        try:
            number = float(value) if kind == "number" else int(str(value))
        except (TypeError, ValueError):
            raise SpecError(
                key, f"expected {'a whole number' if kind == 'integer' else 'a number'}, got {shown}", source=source
            ) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise SpecError(key, f"must be a finite number, got {shown}", source=source)
        if low is not None and number < float(low):
            raise SpecError(key, f"{number:g} is out of range: must be at least {float(low):g}", source=source)
        if high is not None and number > float(high):
            raise SpecError(key, f"{number:g} is out of range: must be at most {float(high):g}", source=source)
        return number
    if kind == "boolean":
        if str(value).lower() not in ("true", "false"):
            raise SpecError(key, f"expected true or false, got {shown}", source=source)
        return str(value).lower() == "true"
    if kind != "string":
        raise SpecError(key, f"is a {kind} input; finetui sets only literal values", source=source)
    text = str(value)
    if enum and text not in enum:
        raise SpecError(key, f"{shown} is not one of {', '.join(enum)}", source=source)
    return text
