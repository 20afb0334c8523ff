"""Token lengths against max_seq_length: a one-line scale of min, p50, p95 and max."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

if TYPE_CHECKING:
    from finetui.core.models import TokenStats


def token_histogram(stats: TokenStats | None, width: int = 48) -> Text:
    """The quantiles and the limit marked on one scale from 0 to the longest row (or the limit)."""
    out = Text()
    if stats is None:
        return Text("no token statistics (validate with a tokenizer to see lengths)")
    limit = stats.max_seq_length
    out.append(f"tokens per row: min {stats.min} · p50 {stats.p50} · mean {stats.mean:.0f} · p95 {stats.p95} · max {stats.max}\n")
    if limit and limit > 0:
        style = "bold red" if stats.over_max else "green"
        out.append(f"max_seq_length {limit}: {stats.over_max} of {stats.count} rows longer (truncated)\n", style=style)
    top = max(stats.max, limit or 0, 1)
    scale = [" "] * width
    for value, mark in ((stats.min, "["), (stats.p50, "|"), (stats.p95, "|"), (stats.max, "]")):
        scale[min(width - 1, value * (width - 1) // top)] = mark
    line = Text("".join(scale).replace(" ", "─"))
    if limit and limit > 0:
        at = min(width - 1, limit * (width - 1) // top)
        line = (
            Text("".join(scale[:at]).replace(" ", "─"))
            + Text("▲", style="bold")
            + Text("".join(scale[at + 1 :]).replace(" ", "─"))
        )
    out.append_text(line)
    out.append(
        f"\n0{' ' * (width - len(str(top)) - 1)}{top}\n[ min  | p50  | p95  ] max"
        + ("  ▲ max_seq_length" if limit and limit > 0 else "")
    )
    return out
