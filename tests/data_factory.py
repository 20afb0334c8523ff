"""Ultrachat-shaped chat data for tests and benches, generated quickly and offline.

Rows look like HuggingFaceH4/ultrachat_200k: ``prompt`` (the first user turn),
``prompt_id`` (64 hex digits) and ``messages``, a multi-turn user/assistant
conversation of several KB with newlines and some non-ASCII text. Benches
import this through ``sys.path`` (``from data_factory import ...``).
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any, Iterator

_WORDS = (
    "the model data train loss token chat user assistant fine tune lora rank epoch batch memory "
    "gradient learning rate schedule warmup dataset prompt answer question story character city "
    "river mountain history science music recipe travel budget garden energy climate health "
    "café naïve résumé — “quoted” 日本語 Ελληνικά über straße"
).split()


def _paragraphs(rng: random.Random, n: int = 96) -> list[str]:
    out = []
    for _ in range(n):
        sentences = []
        for _ in range(rng.randint(2, 12)):
            words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 24))]
            sentences.append(" ".join(words).capitalize() + rng.choice(".?!"))
        text = " ".join(sentences)
        if rng.random() < 0.3:
            text += "\n\n1. " + rng.choice(_WORDS) + "\n2. " + rng.choice(_WORDS)
        out.append(text)
    return out


def ultrachat_rows(n: int, *, seed: int = 0, avg_bytes: int = 1500) -> Iterator[dict[str, Any]]:
    """``n`` valid rows as dicts (for small files and parquet fixtures)."""
    rng = random.Random(seed)
    paragraphs = _paragraphs(rng)
    for i in range(n):
        target = avg_bytes * rng.uniform(0.5, 1.5)
        turns: list[dict[str, str]] = []
        size = 0
        while size < target or len(turns) % 2 or not turns:
            role = "user" if len(turns) % 2 == 0 else "assistant"
            text = (
                f"Question {i}: " + paragraphs[rng.randrange(len(paragraphs))]
                if not turns
                else paragraphs[rng.randrange(len(paragraphs))]
            )
            turns.append({"content": text, "role": role})
            size += len(text.encode()) + 30
        yield {
            "prompt": turns[0]["content"],
            "prompt_id": hashlib.sha256(f"{seed}:{i}".encode()).hexdigest(),
            "messages": turns,
        }


def write_jsonl(path: str | Path, rows: Any) -> Path:
    path = Path(path)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def write_synthetic_ultrachat(path: str | Path, rows: int, avg_bytes: int = 4000, seed: int = 0) -> Path:
    """Write ``rows`` ultrachat rows of about ``avg_bytes`` each; ~0.8 GB for 200,000 x 4000 in about 5 s.

    Paragraphs are JSON-encoded once and rows are assembled as text, so the
    cost is mostly the write itself.
    """
    rng = random.Random(seed)
    encoded = [json.dumps(p, ensure_ascii=False) for p in _paragraphs(rng, 256)]
    sizes = [len(e.encode()) for e in encoded]
    overshoot = 120 + sum(sizes) // len(sizes)  # keys, prompt_id, and the turn that evens the conversation
    path = Path(path)
    with open(path, "w", encoding="utf-8", buffering=8 << 20) as f:
        batch: list[str] = []
        for i in range(rows):
            target = avg_bytes * rng.uniform(0.5, 1.5) - overshoot
            picks: list[int] = []
            size = 0
            while size < target or len(picks) % 2 or not picks:
                k = rng.randrange(len(encoded))
                size += sizes[k] * (2 if not picks else 1) + 36  # the first turn is repeated as the prompt
                picks.append(k)
            msgs = ", ".join(
                f'{{"content": {encoded[k]}, "role": "{"user" if j % 2 == 0 else "assistant"}"}}' for j, k in enumerate(picks)
            )
            batch.append(f'{{"prompt": {encoded[picks[0]]}, "prompt_id": "{i:064x}", "messages": [{msgs}]}}\n')
            if len(batch) >= 2000:
                f.write("".join(batch))
                batch.clear()
        f.write("".join(batch))
    return path


def write_hub_folder(root: str | Path, splits: dict[str, int], *, seed: int = 0) -> Path:
    """A local copy of a hub dataset repo laid out like ultrachat_200k: README configs + data/*.parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(root)
    (root / "data").mkdir(parents=True, exist_ok=True)
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for k, (split, n) in enumerate(splits.items()):
        rows = list(ultrachat_rows(n, seed=seed + k, avg_bytes=400))
        pq.write_table(pa.Table.from_pylist(rows), root / "data" / f"{split}-00000-of-00001.parquet")
        lines += [f"  - split: {split}", f"    path: data/{split}-*"]
    lines += ["---", "", "# A local ultrachat-shaped dataset for tests", ""]
    (root / "README.md").write_text("\n".join(lines), encoding="utf-8")
    return root


def tiny_chat_tokenizer() -> Any:
    """A word-level BPE trained here on a few strings, with a plain chat template: no downloads."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    corpus = ["hello there how are you", "the model answers questions", "user assistant system"] * 5
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=80, special_tokens=["<unk>", "<s>", "</s>"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    fast.chat_template = "{% for m in messages %}<s>{{ m['role'] }} {{ m['content'] }}</s>{% endfor %}"
    return fast
