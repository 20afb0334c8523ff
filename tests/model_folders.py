"""Tiny Hugging Face model folders and cache layouts for catalog and compute tests.

Weights are zeros written with safetensors' numpy API: the catalog reads only
headers, so nothing here needs torch.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

TINY_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 16,
    "intermediate_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "vocab_size": 64,
    "max_position_embeddings": 128,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
}

# Phi-3-mini-4k-instruct's config.json dimensions (3.8B parameters).
PHI3_CONFIG = {
    "architectures": ["Phi3ForCausalLM"],
    "model_type": "phi3",
    "hidden_size": 3072,
    "intermediate_size": 8192,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "vocab_size": 32064,
    "max_position_embeddings": 4096,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}


def tiny_tensors() -> dict[str, np.ndarray]:
    return {
        "model.embed_tokens.weight": np.zeros((64, 16), np.float32),
        "model.layers.0.self_attn.q_proj.weight": np.zeros((16, 16), np.float32),
        "model.layers.1.mlp.up_proj.weight": np.zeros((32, 16), np.float32),
    }


TINY_PARAMS = 64 * 16 + 16 * 16 + 32 * 16


def make_tiny_model(folder: Path, config: dict | None = None, *, shards: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config or TINY_CONFIG), encoding="utf-8")
    tensors = tiny_tensors()
    if shards == 1:
        save_file(tensors, str(folder / "model.safetensors"))
        return folder
    names = sorted(tensors)
    weight_map = {}
    for i in range(shards):
        part = {n: tensors[n] for n in names[i::shards]}
        fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        save_file(part, str(folder / fname))
        weight_map.update({n: fname for n in part})
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return folder


def make_hf_cache(cache: Path, repo_id: str = "org/tiny-chat", revision: str = "0123456789abcdef0123") -> Path:
    """The layout huggingface_hub writes: models--org--name/{refs/main, snapshots/<rev>/...}."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = make_tiny_model(repo / "snapshots" / revision)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    (repo / "blobs").mkdir(exist_ok=True)
    return snapshot
