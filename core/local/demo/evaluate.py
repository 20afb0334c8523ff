"""Score a model on the demo's held-out questions: did it learn the facts?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MAX_NEW_TOKENS = 24


def answers(
    model: Any, tokenizer: Any, conversations: list[list[dict[str, str]]], max_new_tokens: int = MAX_NEW_TOKENS
) -> list[str]:
    """Greedy replies, one per conversation, decoded without special tokens."""
    import torch

    model.eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one token at a time from a tiny model: threads only add contention
    try:
        out = _generate(model, tokenizer, conversations, max_new_tokens)
    finally:
        torch.set_num_threads(threads)
    return out


def _generate(model: Any, tokenizer: Any, conversations: list[list[dict[str, str]]], max_new_tokens: int) -> list[str]:
    import torch

    out = []
    with torch.no_grad():
        for messages in conversations:
            ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
            gen = model.generate(
                **ids,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
            out.append(tokenizer.decode(gen[0, ids["input_ids"].shape[1] :], skip_special_tokens=True).strip())
    return out


def score(model: Any, tokenizer: Any, rows: list[dict[str, Any]]) -> tuple[int, int]:
    replies = answers(model, tokenizer, [r["messages"] for r in rows])
    return sum(r["expected"] in reply for r, reply in zip(rows, replies)), len(rows)


def evaluate_heldout(
    model_dir: str | Path, tokenizer_dir: str | Path, heldout_path: str | Path, limit: int | None = None
) -> tuple[int, int]:
    """(correct, total): greedy answers containing the expected capital.

    ``model_dir`` may be a Hugging Face folder, a PEFT adapter folder or an
    MLflow transformers folder (as training writes and the registry keeps).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..artifacts import resolve_hf_dirs
    from .model import quiet_progress

    model_dir = Path(model_dir)
    if not (model_dir / "adapter_config.json").is_file():
        model_dir = resolve_hf_dirs(model_dir)[0]
    tokenizer_dir = Path(tokenizer_dir)
    if not (tokenizer_dir / "tokenizer_config.json").is_file():
        tokenizer_dir = resolve_hf_dirs(tokenizer_dir)[1]
    with quiet_progress():
        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        if (model_dir / "adapter_config.json").is_file():
            from peft import AutoPeftModelForCausalLM

            model = AutoPeftModelForCausalLM.from_pretrained(str(model_dir))
        else:
            model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    with open(heldout_path, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return score(model, tokenizer, rows[:limit] if limit else rows)
