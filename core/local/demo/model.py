"""The demo's base model: a tiny Phi-3, pre-trained for a few seconds on general chat.

Small enough to train on a laptop CPU in under a minute (about 0.9M
parameters), big enough to hold a greeting and, once fine-tuned, learn 26 new
facts. Pre-training is a plain torch loop rather than a Trainer: it is a fixed
number of seeded steps, so the same build gives the same weights.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

HIDDEN = 128
LAYERS = 4
HEADS = 4
INTERMEDIATE = 256
CONTEXT = 512

PRETRAIN_STEPS = 300
PRETRAIN_BATCH = 16
PRETRAIN_LR = 3e-3


def make_config(
    tokenizer: Any,
    *,
    hidden: int = HIDDEN,
    intermediate: int = INTERMEDIATE,
    layers: int = LAYERS,
    heads: int = HEADS,
    context: int = CONTEXT,
) -> Any:
    """A small Phi-3 config around ``tokenizer``; the sizes default to the demo's, tests pick their own."""
    from transformers import Phi3Config

    return Phi3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=context,
        original_max_position_embeddings=context,
        sliding_window=None,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )


def _encode(tokenizer: Any, conversations: Sequence[list[dict[str, str]]]) -> list[list[int]]:
    out = []
    for messages in conversations:
        ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
        out.append(list(ids)[:CONTEXT])
    return out


def pretrain(
    tokenizer: Any,
    conversations: Sequence[list[dict[str, str]]],
    *,
    steps: int = PRETRAIN_STEPS,
    batch_size: int = PRETRAIN_BATCH,
    lr: float = PRETRAIN_LR,
    seed: int = 0,
    progress: Callable[[str, float | None], None] | None = None,
) -> Any:
    """A Phi3ForCausalLM trained on all tokens of ``conversations`` (fp32, CPU, AdamW, cosine decay)."""
    import torch

    # Matrices this small gain nothing from a second thread, and on a busy machine the threads'
    # barriers cost far more than they save (measured: 40 steps took 5 s on one thread, 30-250 s on two).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _pretrain(tokenizer, conversations, steps=steps, batch_size=batch_size, lr=lr, seed=seed, progress=progress)
    finally:
        torch.set_num_threads(threads)


def _pretrain(
    tokenizer: Any,
    conversations: Sequence[list[dict[str, str]]],
    *,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    progress: Callable[[str, float | None], None] | None,
) -> Any:
    import torch
    from transformers import Phi3ForCausalLM

    torch.manual_seed(seed)
    model = Phi3ForCausalLM(make_config(tokenizer))
    model.train()
    encoded = _encode(tokenizer, conversations)
    pad = tokenizer.pad_token_id
    optim = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim,
        lambda s: (s + 1) / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * (s - warmup) / max(1, steps - warmup))),
    )
    gen = torch.Generator().manual_seed(seed)
    order: list[int] = []
    started = time.monotonic()
    for step in range(steps):
        if len(order) < batch_size:
            order += torch.randperm(len(encoded), generator=gen).tolist()
        batch = [encoded[i] for i in order[:batch_size]]
        del order[:batch_size]
        width = max(len(b) for b in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, b in enumerate(batch):
            ids[i, : len(b)] = torch.tensor(b)
            mask[i, : len(b)] = 1
        labels = ids.masked_fill(mask == 0, -100)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        sched.step()
        optim.zero_grad(set_to_none=True)
        if progress and (step % 25 == 0 or step == steps - 1):
            progress(
                f"pre-training step {step + 1}/{steps}, loss {loss.item():.3f} ({time.monotonic() - started:.0f} s)",
                (step + 1) / steps,
            )
    model.eval()
    return model


def save_model(model: Any, tokenizer: Any, folder: Path) -> None:
    """config.json, model.safetensors, generation_config.json (stop at <|end|>) and the tokenizer."""
    from transformers import GenerationConfig

    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        max_new_tokens=64,
    )
    with quiet_progress():
        model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


@contextmanager
def quiet_progress() -> Iterator[None]:
    """No transformers progress bars on stderr: the app owns the screen, the CLI prints its own progress."""
    from transformers.utils import logging as hf_logging

    was_disabled = hf_logging.is_progress_bar_enabled() is False
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if not was_disabled:
            hf_logging.enable_progress_bar()
