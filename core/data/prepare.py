"""The training input: a copy of a chat JSONL that keeps only ``messages``.

TRL's SFTTrainer treats a dataset with a ``prompt`` column (ultrachat has one)
as prompt-completion data and then fails looking for ``completion``; with
only ``messages`` it applies the chat template to the whole conversation.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TextIO

from ..errors import DataError, InvalidInput
from .validate import row_problems


def atomic_writer(dst: Path) -> tuple[Path, TextIO]:
    """Open a temp file beside ``dst``; the caller renames it over ``dst`` when complete."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    return tmp, open(tmp, "w", encoding="utf-8", newline="\n")


def prepare_training_file(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> int:
    """Write ``dst`` with one ``{"messages": [...]}`` per row of ``src``; return the row count.

    Blank lines are skipped; any other bad row raises DataError naming its line
    (validate first to see every problem at once).
    """
    src_path, dst_path = Path(src), Path(dst)
    if not src_path.is_file():
        raise InvalidInput(f"{src_path}: file not found")
    tmp, out = atomic_writer(dst_path)
    count = 0
    try:
        with out, open(src_path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                if not raw.strip():
                    continue
                try:
                    row = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    raise DataError(f"{src_path}:{lineno}: not a valid JSON row ({type(exc).__name__})") from None
                problems = row_problems(row)
                if problems:
                    field, reason = problems[0]
                    raise DataError(f"{src_path}:{lineno}: {field + ': ' if field else ''}{reason}")
                messages = [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
                out.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
                count += 1
        if count == 0:
            raise DataError(f"{src_path}: no rows to train on")
        os.replace(tmp, dst_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count
