"""A tiny Phi-3 chat model and chat data for training tests, built in a couple of seconds.

The tokenizer is the demo's byte-level BPE with the demo's chat template (it has
``{% generation %}`` markers, so TRL's assistant-only loss works); the model is
randomly initialised (seeded) and smaller than the demo base, and the data is
the demo's synthetic ultrachat-style rows. Skipping the demo's pre-training
keeps each test's set-up to a second or two.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TinySetup:
    model_dir: Path
    train_file: Path
    test_file: Path


def build_tiny_setup(folder: Path, *, hidden: int = 64, layers: int = 2, heads: int = 4, seed: int = 0) -> TinySetup:
    """Write ``model/`` (config, safetensors, tokenizer) and ``data/`` (train/test JSONL) under ``folder``."""
    import torch
    from transformers import Phi3ForCausalLM

    from finetui.core.local.demo.model import make_config

    files, tokenizer = _demo_data_and_tokenizer(folder)
    config = make_config(tokenizer, hidden=hidden, intermediate=hidden * 2, layers=layers, heads=heads, context=512)
    torch.manual_seed(seed)
    return _save(folder, Phi3ForCausalLM(config), tokenizer, files)


def _demo_data_and_tokenizer(folder: Path) -> tuple[dict, object]:
    from finetui.core.local.demo.data import corpus_texts, read_jsonl, write_dataset
    from finetui.core.local.demo.tokenizer import train_tokenizer

    files = write_dataset(folder / "data", seed=1234)
    texts = [*read_jsonl(files["chat"]), *read_jsonl(files["train"]), *read_jsonl(files["test"])]
    return files, train_tokenizer(corpus_texts(texts), vocab_size=512)


def _save(folder: Path, model: object, tokenizer: object, files: dict) -> TinySetup:
    model_dir = folder / "model"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    return TinySetup(model_dir=model_dir, train_file=files["train"], test_file=files["test"])


def strip_generation_markers(model_dir: Path) -> None:
    """Rewrite the saved chat template without ``{% generation %}`` (a tokenizer that lacks them)."""
    path = model_dir / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    template = config.get("chat_template")
    if template is None:
        jinja = model_dir / "chat_template.jinja"
        text = jinja.read_text(encoding="utf-8")
        jinja.write_text(text.replace("{% generation %}", "").replace("{% endgeneration %}", ""), encoding="utf-8")
        return
    config["chat_template"] = template.replace("{% generation %}", "").replace("{% endgeneration %}", "")
    path.write_text(json.dumps(config), encoding="utf-8")


# SmolLM-135M's shape: a Llama with a real-size vocabulary (49,152 tokens), about 135M parameters
LLAMA_135M = {
    "hidden_size": 576,
    "intermediate_size": 1536,
    "num_hidden_layers": 30,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "vocab_size": 49152,
    "tie_word_embeddings": True,
}


def build_llama_setup(folder: Path, dims: dict | None = None, *, seed: int = 0) -> TinySetup:
    """Like ``build_tiny_setup`` with a Llama of ``dims`` (default ``LLAMA_135M``); the demo's tokenizer
    covers the first few hundred ids, and the rest of the vocabulary costs what it costs a real model."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    files, tokenizer = _demo_data_and_tokenizer(folder)
    config = LlamaConfig(
        **(dims or LLAMA_135M),
        max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    return _save(folder, LlamaForCausalLM(config), tokenizer, files)
