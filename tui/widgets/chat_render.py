"""One conversation (a list of {role, content}) as text, for the Data pane."""

from __future__ import annotations

from typing import Any

from rich.text import Text

ROLE_STYLE = {"system": "italic", "user": "bold", "assistant": ""}


def conversation_text(row: Any, max_chars: int = 20000) -> Text:
    out = Text()
    if not isinstance(row, dict) or not isinstance(row.get("messages"), list):
        out.append("this row has no messages list\n", style="bold")
        out.append(str(row)[:max_chars])
        return out
    if row.get("prompt_id"):
        out.append(f"prompt_id {row['prompt_id']}\n\n", style="dim")
    used = 0
    for m in row["messages"]:
        role = str(m.get("role", "?")) if isinstance(m, dict) else "?"
        content = str(m.get("content", "")) if isinstance(m, dict) else str(m)
        out.append(f"{role}\n", style=f"{ROLE_STYLE.get(role, '')} underline")
        room = max_chars - used
        out.append(content[:room] + ("…\n\n" if len(content) > room else "\n\n"))
        used += len(content)
        if used >= max_chars:
            out.append("(truncated)", style="dim")
            break
    return out
