"""A model's dimensions from its config.json, and what they imply: parameter counts, LoRA targets and sizes.

Read without loading the model (milliseconds), by the memory-fit estimate,
the local catalog and the local training engine, so the parameters the
estimate counts are the ones the engine trains.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import InvalidInput
from .spec import FineTuneSpec

# Architectures whose MLP is two matrices (fc1/fc2) instead of the gated three.
_UNGATED = {"gpt2", "gpt_neox", "gptj", "phi", "opt", "bloom", "falcon", "gpt_bigcode", "starcoder2", "codegen", "mpt"}
# The LoRA targets finetui trains when the spec names none. Phi-3 fuses q/k/v and gate/up; these four are the
# linear layers Azure's Phi-3 recipes adapt. Any other architecture: every linear layer of the decoder.
DEFAULT_LORA_TARGETS = {"phi3": ("qkv_proj", "o_proj", "gate_up_proj", "down_proj")}
_OUTSIDE_LAYERS = ("lm_head", "embed_tokens", "wte", "word_embeddings")
_REQUIRED = ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size")


def normalize_dims(raw: dict[str, Any]) -> dict[str, Any]:
    """Map a config.json (or an already normalised dict) to the dimension names used here."""
    merged = dict(raw)
    for nested in ("text_config", "llm_config", "language_config"):
        sub = raw.get(nested)
        if isinstance(sub, dict):
            merged.update({k: v for k, v in sub.items() if v is not None})

    def pick(*names: str) -> Any:
        for n in names:
            if merged.get(n) is not None:
                return merged[n]
        return None

    h = pick("hidden_size", "n_embd", "d_model", "dim")
    heads = pick("num_attention_heads", "n_head", "num_heads", "n_heads")
    dims: dict[str, Any] = {
        "model_type": pick("model_type"),
        "hidden_size": h,
        "num_hidden_layers": pick("num_hidden_layers", "n_layer", "num_layers", "n_layers"),
        "num_attention_heads": heads,
        "num_key_value_heads": pick("num_key_value_heads", "num_kv_heads", "n_kv_heads") or heads,
        "intermediate_size": pick("intermediate_size", "n_inner", "ffn_dim", "ffn_hidden_size") or (4 * h if h else None),
        "vocab_size": pick("vocab_size", "padded_vocab_size"),
        "max_position_embeddings": pick("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx"),
        "tie_word_embeddings": bool(pick("tie_word_embeddings") or False),
        "attn_implementation": pick("attn_implementation", "_attn_implementation"),
    }
    head_dim = pick("head_dim")
    if head_dim is None and h and heads:
        head_dim = h // heads
    dims["head_dim"] = head_dim
    return dims


def model_dims(path: str | Path) -> dict[str, Any]:
    """Dimensions from the config.json in ``path`` (a folder, an MLflow model folder, or the file)."""
    p = Path(path)
    if p.is_dir():
        from .local.artifacts import resolve_hf_dirs

        folder = resolve_hf_dirs(p)[0] if (p / "MLmodel").is_file() else p
        p = folder / "config.json"
        base = _adapter_base(folder)
        if not p.is_file() and base is not None:
            return model_dims(base)  # a LoRA adapter alone: the dimensions are its base model's
    from .files import CONFIG_MAX_BYTES, read_user_text

    if not p.exists():
        raise InvalidInput(f"{p}: file not found; a model folder needs its config.json")
    try:
        raw = json.loads(read_user_text(p, None, CONFIG_MAX_BYTES))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise InvalidInput(f"{p}: expected a JSON object")
    return normalize_dims(raw)


def _adapter_base(folder: Path) -> Path | None:
    try:
        adapter = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    base = adapter.get("base_model_name_or_path") if isinstance(adapter, dict) else None
    return Path(base) if base and Path(base).is_dir() and Path(base).resolve() != folder.resolve() else None


def missing_dims(dims: dict[str, Any]) -> list[str]:
    return [k for k in _REQUIRED if not dims.get(k)]


def _gated(dims: dict[str, Any]) -> bool:
    return dims.get("model_type") not in _UNGATED


def params_from_dims(dims: dict[str, Any]) -> int:
    h: int = dims["hidden_size"]
    L: int = dims["num_hidden_layers"]
    V: int = dims["vocab_size"]
    a: int = dims["num_attention_heads"]
    kv: int = dims["num_key_value_heads"]
    hd: int = dims["head_dim"]
    i: int = dims["intermediate_size"]
    attn = 2 * h * a * hd + 2 * h * kv * hd
    mlp = (3 if _gated(dims) else 2) * h * i
    embeddings = V * h * (1 if dims.get("tie_word_embeddings") else 2)
    return L * (attn + mlp + 2 * h) + embeddings + h


def _module_shapes(name: str, d: dict[str, Any]) -> list[tuple[int, int]]:
    """(in, out) of each linear layer a LoRA target name matches in one decoder layer."""
    h, i, V = d["hidden_size"], d["intermediate_size"], d["vocab_size"]
    q, kv = d["num_attention_heads"] * d["head_dim"], d["num_key_value_heads"] * d["head_dim"]
    table = {
        ("q_proj", "query", "q"): [(h, q)],
        ("k_proj", "key", "k", "v_proj", "value", "v"): [(h, kv)],
        ("o_proj", "out_proj", "dense", "wo"): [(q, h)],
        ("qkv_proj", "query_key_value", "c_attn", "wqkv", "w_pack"): [(h, q + 2 * kv)],
        ("gate_proj", "up_proj", "w1", "w3", "fc1", "c_fc", "dense_h_to_4h"): [(h, i)],
        ("down_proj", "w2", "fc2", "dense_4h_to_h"): [(i, h)],
        ("gate_up_proj",): [(h, 2 * i)],
        ("c_proj",): [(q, h), (i, h)],  # GPT-2 names both the attention and the MLP output c_proj
    }
    key = name.rsplit(".", 1)[-1].lower()
    for names, shapes in table.items():
        if key in names:
            return shapes
    if key in _OUTSIDE_LAYERS:
        return [(h, V)]
    return [(h, h)]


def _all_linear(d: dict[str, Any]) -> list[str]:
    """What peft's "all-linear" adapts: the decoder's linear layers, named so ``_module_shapes`` sizes them."""
    if d.get("model_type") in DEFAULT_LORA_TARGETS:
        return list(DEFAULT_LORA_TARGETS[d["model_type"]])
    mlp = ["gate_proj", "up_proj", "down_proj"] if _gated(d) else ["fc1", "fc2"]
    return ["q_proj", "k_proj", "v_proj", "o_proj", *mlp]


def default_lora_targets(model_type: str | None) -> tuple[str, ...]:
    return DEFAULT_LORA_TARGETS.get(model_type or "", ("all-linear",))


def lora_targets(spec: FineTuneSpec, dims: dict[str, Any]) -> tuple[str, ...]:
    """The module names LoRA adapts, "all-linear" spelled out for this architecture."""
    named = tuple(spec.lora_target_modules or ()) or default_lora_targets(dims.get("model_type"))
    if [m.lower() for m in named] == ["all-linear"]:
        return tuple(_all_linear(dims))
    return named


def lora_parameters(spec: FineTuneSpec, dims: dict[str, Any]) -> int:
    """r × (in + out) per adapted matrix; embeddings and lm_head sit outside the layers, once."""
    per_layer = once = 0
    for name in lora_targets(spec, dims):
        size = sum(spec.lora_r * (din + dout) for din, dout in _module_shapes(name, dims))
        if name.rsplit(".", 1)[-1].lower() in _OUTSIDE_LAYERS:
            once += size
        else:
            per_layer += size
    layers: int = dims["num_hidden_layers"]
    return per_layer * layers + once


def modules_to_save_parameters(spec: FineTuneSpec, dims: dict[str, Any]) -> int:
    total = 0
    for name in spec.lora_modules_to_save or ():
        total += sum(din * dout for din, dout in _module_shapes(name, dims))
    return total
