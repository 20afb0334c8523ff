"""Token lengths against max_seq_length, drawn with block characters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from rich.text import Text

if TYPE_CHECKING:
    from finetui.core.models import TokenStats

BLOCKS = " ▁▂▃▄▅▆▇█"


def bars(counts: Sequence[int], height: int = 6) -> list[str]:
    """Rows (top first) of a vertical bar chart, one column per count."""
    peak = max(counts) if counts else 0
    if not peak:
        return [" " * len(counts)] * height
    levels = [c * height * 8 // peak for c in counts]
    rows = []
    for r in range(height - 1, -1, -1):
        rows.append("".join(BLOCKS[max(0, min(8, lv - r * 8))] for lv in levels))
    return rows


def token_histogram(stats: TokenStats | None, width: int = 48) -> Text:
    """A histogram when core gives bins (``stats.histogram``), else a scale of min/p50/p95/max."""
    out = Text()
    if stats is None:
        return Text("no token statistics (validate with a tokenizer to see lengths)")
    limit = getattr(stats, "max_seq_length", None)
    out.append(f"tokens per row: min {stats.min} · p50 {stats.p50} · mean {stats.mean:.0f} · p95 {stats.p95} · max {stats.max}\n")
    if limit and limit > 0:
        style = "bold red" if stats.over_max else "green"
        out.append(f"max_seq_length {limit}: {stats.over_max} of {stats.count} rows longer (truncated)\n", style=style)
    bins = getattr(stats, "histogram", None)
    top = max(stats.max, limit or 0, 1)
    if bins:
        for row in bars(list(bins)[:width]):
            out.append(row + "\n")
        out.append(f"0{' ' * (min(width, len(bins)) - len(str(top)) - 1)}{top}\n")
        return out
    # no bins: a one-line scale with the quantiles and the limit marked
    scale = [" "] * width
    for value, mark in ((stats.min, "["), (stats.p50, "|"), (stats.p95, "|"), (stats.max, "]")):
        scale[min(width - 1, value * (width - 1) // top)] = mark
    line = Text("".join(scale).replace(" ", "─"))
    if limit and limit > 0:
        at = min(width - 1, limit * (width - 1) // top)
        line = Text("".join(scale[:at]).replace(" ", "─")) + Text("▲", style="bold") + Text("".join(scale[at + 1:]).replace(" ", "─"))
    out.append_text(line)
    out.append(f"\n0{' ' * (width - len(str(top)) - 1)}{top}\n[ min  | p50  | p95  ] max" + ("  ▲ max_seq_length" if limit and limit > 0 else ""))
    return out
