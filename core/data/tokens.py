"""Token lengths of chat rows, measured with a model's tokenizer and chat template.

Used by the validator to say how long conversations are against
``max_seq_length``; ``transformers`` is imported only by ``load_tokenizer``.
"""

from __future__ import annotations

import math
import os
from typing import Any, Iterable

from ..errors import InvalidInput
from ..models import TokenStats


def load_tokenizer(model_path: str | os.PathLike[str]) -> Any:
    """The tokenizer of an HF or MLflow model folder (with its chat template)."""
    from ..local.artifacts import resolve_hf_dirs

    _, tokenizer_dir = resolve_hf_dirs(model_path)
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(tokenizer_dir))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{tokenizer_dir}: cannot load a tokenizer: {str(exc).splitlines()[0]}") from None


def require_chat_template(tokenizer: Any, where: str) -> None:
    if not getattr(tokenizer, "chat_template", None):
        raise InvalidInput(f"{where}: the tokenizer has no chat template, so token lengths cannot be measured")


def token_lengths(tokenizer: Any, conversations: list[list[dict[str, Any]]]) -> list[int]:
    """Tokens of each conversation with the chat template applied, one batched call."""
    try:
        out = tokenizer.apply_chat_template(conversations, tokenize=True)
    except Exception as exc:  # a template that rejects a conversation is a data or model problem
        raise InvalidInput(
            f"the chat template failed on a conversation: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    ids = out["input_ids"] if hasattr(out, "keys") else out  # transformers 5 returns a BatchEncoding
    return [len(x) for x in ids]


def token_stats(lengths: Iterable[int], max_seq_length: int | None) -> TokenStats | None:
    """Nearest-rank percentiles; None when nothing was measured."""
    ordered = sorted(lengths)
    n = len(ordered)
    if not n:
        return None

    def pct(q: float) -> int:
        return int(ordered[min(n - 1, max(0, math.ceil(q * n) - 1))])

    return TokenStats(
        count=n,
        min=int(ordered[0]),
        max=int(ordered[-1]),
        mean=round(sum(ordered) / n, 2),
        p50=pct(0.5),
        p95=pct(0.95),
        max_seq_length=max_seq_length,
        over_max=sum(1 for x in ordered if max_seq_length and x > max_seq_length),
    )
