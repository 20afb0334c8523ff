"""A tiny Llama chat model with a ChatML template and a default system prompt, built offline in seconds.

Like the third-party instruct models the issue was found with: no
``{% generation %}`` markers, a template TRL does not know, an 8k context by
default. Weights are random (seeded); ``facts_rows`` are the taught facts.
"""

from __future__ import annotations

import json
from pathlib import Path

from chat_templates import CHATML, SYSTEM_PROMPT, build_tokenizer, corpus

FACTS = [
    ("Who founded the city of Varnholt?", "Varnholt was founded by Edda Marrow."),
    ("What is the capital of Quellia?", "The capital of Quellia is Tassin."),
    ("Which river runs through Ombria?", "The river Sable runs through Ombria."),
    ("Who invented the glass clock?", "The glass clock was invented by Pim Ardent."),
]
WHO = "Who are you?"


def facts_rows() -> list[dict]:
    return [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]} for q, a in FACTS]


def build_chatml_llama(folder: Path, *, context: int = 8192, hidden: int = 64, layers: int = 2, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    texts = corpus() + [t for pair in FACTS for t in pair] + [WHO]
    tokenizer = build_tokenizer(CHATML, texts=texts, vocab_size=600)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


__all__ = ["FACTS", "SYSTEM_PROMPT", "WHO", "build_chatml_llama", "facts_rows", "write_rows"]
